"""The runner: exception ids, concern, store rows, idempotent reruns, threshold overrides."""

import hashlib
from datetime import date

import pytest
from check_fixtures import AS_AT, add_child, add_gp_registration

from caseflags.checking.registry import RegistryError
from caseflags.checking.runner import run_all_checks, run_check


def test_exception_rows_carry_id_concern_and_keys(store):
    add_child(store, "C1", date(2014, 1, 1), cin_from=date(2026, 1, 5), nhs="N1")
    [row] = run_check(store, "GP_NOT_KNOWN", AS_AT)
    expected = hashlib.sha1(b"GP_NOT_KNOWN|C1|SOCIAL_CARE|child|C1").hexdigest()[:16]
    assert row["exception_id"] == expected
    assert row["check_id"] == "GP_NOT_KNOWN" and row["concern"].startswith("GP invites")


def test_run_all_checks_writes_store_rows_and_rerun_is_idempotent(store):
    add_child(store, "C1", date(2014, 1, 1), cin_from=date(2026, 1, 5), nhs="N1")
    add_child(store, "C2", date(2014, 1, 1), cin_from=date(2026, 1, 5), nhs="N2")
    add_gp_registration(store, "N2", date(2015, 1, 1))
    for _ in range(2):
        outcomes = {o.check_id: o for o in run_all_checks(store, "run-1", AS_AT)}
    assert outcomes["GP_NOT_KNOWN"].exception_count == 1
    stored = store.execute(
        "SELECT run_id, as_at, person_id, agency, entity_id FROM exceptions WHERE check_id = 'GP_NOT_KNOWN'"
    ).fetchall()
    assert stored == [("run-1", AS_AT, "C1", "SOCIAL_CARE", "C1")]
    runs = store.execute("SELECT check_id, status, exception_count FROM check_runs WHERE run_id = 'run-1'").fetchall()
    assert len(runs) == len(outcomes)  # one row per check, not doubled by the rerun
    assert ("GP_NOT_KNOWN", "EVALUATED", 1) in runs
    total = store.execute("SELECT count(*) FROM exceptions WHERE run_id = 'run-1'").fetchone()[0]
    assert total == sum(o.exception_count for o in outcomes.values())


def test_exception_id_is_stable_across_runs_and_dates(store):
    add_child(store, "C1", date(2014, 1, 1), cin_from=date(2026, 1, 5), nhs="N1")
    run_all_checks(store, "run-1", AS_AT, check_ids=["GP_NOT_KNOWN"])
    run_all_checks(store, "run-2", date(2026, 11, 25), check_ids=["GP_NOT_KNOWN"])
    ids = store.execute("SELECT DISTINCT exception_id FROM exceptions WHERE check_id = 'GP_NOT_KNOWN'").fetchall()
    assert len(ids) == 1


def test_thresholds_are_overridden_per_check_and_validated(store):
    add_child(store, "C1", date(2014, 1, 1), cin_from=date(2026, 1, 5))
    [outcome] = run_all_checks(
        store, "run-1", AS_AT, {"VOICE_OF_CHILD_ABSENT": {"window_days": 30}}, check_ids=["VOICE_OF_CHILD_ABSENT"]
    )
    detail = store.execute("SELECT detail FROM exceptions WHERE check_id = 'VOICE_OF_CHILD_ABSENT'").fetchone()[0]
    assert "in the 30 days 2026-10-26 to 2026-11-24" in detail
    with pytest.raises(RegistryError, match="unknown threshold"):
        run_check(store, "VOICE_OF_CHILD_ABSENT", AS_AT, {"window": 30})
    with pytest.raises(KeyError, match="NO_SUCH_CHECK"):
        run_all_checks(store, "run-1", AS_AT, {"NO_SUCH_CHECK": {}})


def test_a_failing_check_is_not_evaluated_and_the_others_still_run(store, monkeypatch):
    from caseflags.checking import registry as registry_module

    add_child(store, "C1", date(2014, 1, 1), cin_from=date(2026, 1, 5), nhs="N1")
    checks = registry_module.load_registry()
    broken = checks["GP_NOT_INVITED"]
    monkeypatch.setattr(
        type(broken),
        "sql",
        lambda self: "SELECT 1/0 AS x FROM no_such_table" if self.id == "GP_NOT_INVITED" else self.sql_path.read_text(),
    )
    outcomes = {o.check_id: o for o in run_all_checks(store, "run-1", AS_AT)}
    assert outcomes["GP_NOT_INVITED"].status == "NOT_EVALUATED"
    assert outcomes["GP_NOT_INVITED"].reason.startswith("check failed (")
    assert "no_such_table" not in outcomes["GP_NOT_INVITED"].reason
    assert outcomes["GP_NOT_KNOWN"].status == "EVALUATED" and outcomes["GP_NOT_KNOWN"].exception_count == 1
