"""When the nightly trains the linkage model again (issue 28): on demand, or when at least
[linkage] retrain_changed_share of the rows linkage reads moved since the night before."""

from __future__ import annotations

import pytest

from caseflags.linkage.stage import LINKAGE_INPUTS, changed_share, retrain_linkage_reason
from caseflags.settings import load_config


def counts(new=0, changed=0, gone=0, unchanged=0, baseline=False) -> dict:
    return {
        "keyed": True,
        "baseline": baseline,
        "rows_new": new,
        "rows_changed": changed,
        "rows_gone": gone,
        "rows_unchanged": unchanged,
    }


def test_the_share_is_of_the_rows_there_were_the_night_before():
    row_changes = {
        "agency_records": counts(new=10, changed=5, gone=5, unchanged=90),
        "ssd_person": counts(changed=0, unchanged=100),
        "meetings": counts(new=1000),
    }  # not read by linkage
    assert changed_share(row_changes, LINKAGE_INPUTS) == pytest.approx(20 / 200)


def test_a_first_load_is_no_change_to_count():
    assert changed_share({"agency_records": counts(new=100, baseline=True)}, LINKAGE_INPUTS) is None
    assert retrain_linkage_reason(load_config().linkage, None) is None


def test_retrained_from_the_configured_share_up_or_on_demand():
    settings = {**load_config().linkage, "retrain_changed_share": 0.25}
    assert retrain_linkage_reason(settings, 0.2499) is None
    assert "25.0%" in retrain_linkage_reason(settings, 0.25)
    assert retrain_linkage_reason({**settings, "retrain": True}, 0.0).startswith("asked for")
    assert retrain_linkage_reason({**settings, "retrain_changed_share": 1.0}, 0.99) is None


def test_the_default_share_is_configured_and_ranged():
    assert 0 < load_config().linkage["retrain_changed_share"] <= 1
