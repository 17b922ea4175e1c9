"""End to end on the bundled sample: every check's exceptions equal the generator's ground truth
(precision and recall 1.0 per check), and every check id is evaluated."""

from __future__ import annotations

import duckdb
import pytest

from caseflags.checking.registry import load_registry
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.sample_data.compare_truth import compare, read_truth, run_exceptions

# The authority's own checks (the regional ones are tested on a generated region: test_region.py).
CHECK_IDS = [check.id for check in load_registry().values() if check.scope == "authority"]
CHECK_IDS_FROM_REGISTRY = CHECK_IDS


@pytest.fixture(scope="module")
def agreements(sample_run):
    db, _, record = sample_run
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = run_exceptions(con, record["run_id"])
    finally:
        con.close()
    return {a.check_id: a for a in compare(read_truth(SAMPLE_DELIVERY), found, CHECK_IDS)}


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_exceptions_equal_truth(check_id, agreements, sample_run):
    agreement = agreements[check_id]
    assert sample_run[2]["checks"][check_id]["status"] == "EVALUATED"
    assert agreement.truth > 0, "the sample must plant at least one exception for every check"
    assert agreement.missed == () and agreement.unexpected == ()


def test_every_authority_check_has_its_planted_truth_module():
    # A check's planted cases and truth live in sample_data/truth/<check_id>.py, mirroring checks/.
    from caseflags.sample_data.generator import CHECK_IDS
    from caseflags.sample_data.truth import PLANTED

    assert set(PLANTED) == set(CHECK_IDS) == set(CHECK_IDS_FROM_REGISTRY)
