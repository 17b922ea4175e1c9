"""Every check in the registry (all groups) reports NOT_EVALUATED, with the table named in the
reason, when one of its input tables is missing; and when the run marks a table unavailable."""

from datetime import date

import pytest
from check_fixtures import AS_AT, add_child, add_sessions, add_summary, new_store

from caseflags.checking.registry import load_registry
from caseflags.checking.runner import EVALUATED, NOT_EVALUATED, CheckNotEvaluated, run_all_checks, run_check
from caseflags.store.database import ensure_store

REGISTRY = load_registry()
CASES = [
    pytest.param(check.id, group, id=f"{check.id}-{'|'.join(group)}")
    for check in REGISTRY.values()
    for group in check.input_alternatives
]


def _check_run(con, run_id, check_id):
    return con.execute(
        "SELECT status, reason, exception_count FROM check_runs WHERE run_id = $run_id AND check_id = $check_id",
        {"run_id": run_id, "check_id": check_id},
    ).fetchone()


def _store_for(check_id):
    """A complete empty store: the authority's, plus the regional tables for a regional check."""
    con = new_store()
    if REGISTRY[check_id].scope == "region":
        ensure_store(con, regional=True)
    return con


@pytest.mark.parametrize(("check_id", "tables"), CASES)
def test_missing_input_table_gives_not_evaluated(check_id, tables):
    con = _store_for(check_id)
    for table in tables:  # all alternatives of the input must be gone
        con.execute(f'DROP TABLE "{table}"')
    [outcome] = run_all_checks(con, "run-1", AS_AT, check_ids=[check_id])
    assert outcome.status == NOT_EVALUATED
    assert all(table in outcome.reason for table in tables)
    assert "absent from the store" in outcome.reason
    assert _check_run(con, "run-1", check_id) == (NOT_EVALUATED, outcome.reason, 0)
    with pytest.raises(CheckNotEvaluated, match=tables[0]):
        run_check(con, check_id, AS_AT)


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_every_check_is_evaluated_on_a_complete_empty_store(check_id):
    con = _store_for(check_id)
    [outcome] = run_all_checks(con, "run-1", AS_AT, check_ids=[check_id])
    assert (outcome.status, outcome.reason, outcome.exception_count) == (EVALUATED, None, 0)


def test_unavailable_tables_give_not_evaluated_and_write_no_exceptions():
    con = new_store()
    add_child(
        con, "C1", date(2014, 1, 1), cin_from=date(2026, 1, 5), nhs="N1"
    )  # no GP registration: GP_NOT_KNOWN fires
    reason = "refused: missing required column practice_code"
    outcomes = {
        o.check_id: o for o in run_all_checks(con, "run-1", AS_AT, unavailable_tables={"gp_registrations": reason})
    }
    for check in REGISTRY.values():
        if any(group == ("gp_registrations",) for group in check.input_alternatives):
            assert outcomes[check.id].status == NOT_EVALUATED
            assert outcomes[check.id].reason == f"input table gp_registrations: {reason}"
    assert outcomes["GP_NOT_KNOWN"].status == NOT_EVALUATED
    assert con.execute("SELECT count(*) FROM exceptions WHERE check_id = 'GP_NOT_KNOWN'").fetchone()[0] == 0
    assert _check_run(con, "run-1", "GP_NOT_KNOWN")[0] == NOT_EVALUATED
    # The same store with the table usable: the check runs and fires.
    outcomes = {o.check_id: o for o in run_all_checks(con, "run-2", AS_AT)}
    assert (outcomes["GP_NOT_KNOWN"].status, outcomes["GP_NOT_KNOWN"].exception_count) == (EVALUATED, 1)


def test_one_unusable_alternative_leaves_the_check_evaluated_on_the_other():
    con = new_store()
    add_child(con, "C1", date(2014, 1, 10), cin_from=date(2026, 1, 5), upn="U1")
    add_summary(con, "U1", date(2026, 9, 1), date(2026, 10, 23), 76, 38)
    add_child(con, "C2", date(2014, 1, 10), cin_from=date(2026, 1, 5), upn="U2")
    add_sessions(con, "U2", ["N"] * 40, date(2026, 9, 1))
    con.execute("DROP TABLE attendance_sessions")
    [outcome] = run_all_checks(con, "run-1", AS_AT, check_ids=["SCHOOL_ATTENDANCE_LOW"])
    assert (outcome.status, outcome.exception_count) == (EVALUATED, 1)
    # Summaries refused this run: their stale rows are not read; sessions are.
    con = new_store()
    add_child(con, "C1", date(2014, 1, 10), cin_from=date(2026, 1, 5), upn="U1")
    add_summary(con, "U1", date(2026, 9, 1), date(2026, 10, 23), 76, 38)
    rows = run_check(
        con, "SCHOOL_ATTENDANCE_LOW", AS_AT, unavailable_tables={"attendance_summaries": "failed contract"}
    )
    assert rows == []
    [outcome] = run_all_checks(
        con,
        "run-1",
        AS_AT,
        check_ids=["SCHOOL_ATTENDANCE_LOW"],
        unavailable_tables={"attendance_summaries": "failed contract", "attendance_sessions": "refused: bad header"},
    )
    assert outcome.status == NOT_EVALUATED
    assert "attendance_sessions: refused: bad header" in outcome.reason
    assert "attendance_summaries: failed contract" in outcome.reason
    # The stand-in tables are gone after the run: the store's own table is visible again.
    assert con.execute("SELECT count(*) FROM attendance_summaries").fetchone()[0] == 1
