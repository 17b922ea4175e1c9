"""ESCALATION_NOT_USED: unresolved professional differences past their stage limit.

AS_AT is Tuesday 24 November 2026. Working days after Tue 17 Nov up to and including D are 5
(18, 19, 20, 23, 24); after Mon 16 Nov, 6. "Older than the limit" means more than the limit.
"""

from datetime import date

from check_fixtures import AS_AT, add_child, insert

from caseflags.checking.runner import run_check

CHECK = "ESCALATION_NOT_USED"


def cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2012, 3, 1), cin_from=date(2026, 1, 5))


def difference(
    con,
    difference_id="D1",
    person_id="C1",
    *,
    raised,
    stage=0,
    stage_date=None,
    resolved=None,
    raised_by="EDUCATION",
    about="SOCIAL_CARE",
):
    insert(
        con,
        "professional_differences",
        difference_id=difference_id,
        person_id=person_id,
        raised_by_agency=raised_by,
        about_agency=about,
        raised_date=raised,
        topic="Threshold decision",
        current_stage=stage,
        stage_date=stage_date,
        resolved_date=resolved,
    )


def test_stage0_older_than_limit_fires_owned_by_raising_agency(store):
    cin_child(store)
    difference(store, raised=date(2026, 11, 2), raised_by="GP", about="SOCIAL_CARE")
    [row] = run_check(store, CHECK, AS_AT)
    assert row["person_id"] == "C1"
    assert row["agency"] == "GP"
    assert (row["entity_type"], row["entity_id"]) == ("professional_difference", "D1")
    assert row["severity"] == "MEDIUM"
    assert "2026-11-02" in row["detail"] and "16 working days" in row["detail"] and "limit 5" in row["detail"]
    assert "difference_id=D1" in row["locator"]
    assert len(row["exception_id"]) == 16


def test_stage0_exactly_at_limit_does_not_fire(store):
    cin_child(store)
    difference(store, raised=date(2026, 11, 17))  # 5 working days old
    assert run_check(store, CHECK, AS_AT) == []


def test_stage0_one_working_day_past_limit_fires(store):
    cin_child(store)
    difference(store, raised=date(2026, 11, 16))  # 6 working days old
    [row] = run_check(store, CHECK, AS_AT)
    assert "6 working days" in row["detail"]


def test_stage0_limit_counts_bank_holidays_out():
    """Over Christmas 2026 (25 and 28 December are bank holidays) ten calendar days are six working days."""
    from check_fixtures import new_store

    con = new_store()
    cin_child(con)
    as_at = date(2026, 12, 31)
    difference(con, "D-IN", raised=date(2026, 12, 22))  # 23, 24, 29, 30, 31: 5 working days
    difference(con, "D-OUT", raised=date(2026, 12, 21))  # plus the 22nd: 6 working days
    rows = run_check(con, CHECK, as_at)
    assert [row["entity_id"] for row in rows] == ["D-OUT"]


def test_weekend_as_at_counts_a_limit_that_ran_out_on_friday():
    """On Saturday 28 November the 5th working day after Friday 20 November (Friday 27th) has passed."""
    from check_fixtures import new_store

    con = new_store()
    cin_child(con)
    difference(con, "D-PASSED", raised=date(2026, 11, 20))
    difference(con, "D-DUE-MONDAY", raised=date(2026, 11, 23))  # 5th working day after: Monday 30th
    rows = run_check(con, CHECK, date(2026, 11, 28))
    assert [row["entity_id"] for row in rows] == ["D-PASSED"]
    assert "passed on 2026-11-27" in rows[0]["detail"]


def test_escalated_stage_boundaries_and_severity(store):
    cin_child(store)
    # Per-stage limit 10: Tue 10 Nov is 10 working days before D, Mon 9 Nov is 11.
    difference(store, "D-AT", raised=date(2026, 9, 1), stage=2, stage_date=date(2026, 11, 10))
    difference(store, "D-PAST", raised=date(2026, 9, 1), stage=1, stage_date=date(2026, 11, 9))
    rows = run_check(store, CHECK, AS_AT)
    assert [row["entity_id"] for row in rows] == ["D-PAST"]
    assert rows[0]["severity"] == "HIGH"
    assert "stage 1 since 2026-11-09" in rows[0]["detail"]


def test_escalated_without_stage_date_runs_from_raised_date(store):
    cin_child(store)
    difference(store, "D-NODATE", raised=date(2026, 10, 1), stage=1, stage_date=None)
    [row] = run_check(store, CHECK, AS_AT)
    assert "stage date not recorded" in row["detail"]


def test_stage0_clock_ignores_a_stage_date(store):
    cin_child(store)
    # Stage 0 runs from the raised date even when a stage date was filled in.
    difference(store, raised=date(2026, 11, 2), stage=0, stage_date=date(2026, 11, 23))
    assert len(run_check(store, CHECK, AS_AT)) == 1


def test_resolved_or_future_or_not_cin_do_not_fire(store):
    cin_child(store)
    difference(store, "D-RESOLVED", raised=date(2026, 10, 1), resolved=date(2026, 11, 20))
    difference(store, "D-FUTURE", raised=date(2026, 11, 25))
    add_child(store, "C2", date(2012, 3, 1))  # not CiN
    difference(store, "D-NOT-CIN", person_id="C2", raised=date(2026, 10, 1))
    add_child(store, "C3", date(2012, 3, 1), cin_from=date(2025, 1, 1), cin_to=date(2026, 11, 1))
    difference(store, "D-CIN-ENDED", person_id="C3", raised=date(2026, 10, 1))
    assert run_check(store, CHECK, AS_AT) == []


def test_resolved_after_as_at_is_unresolved_at_as_at(store):
    cin_child(store)
    difference(store, raised=date(2026, 10, 1), resolved=date(2026, 11, 30))
    assert len(run_check(store, CHECK, AS_AT)) == 1


def test_thresholds_are_configurable(store):
    cin_child(store)
    difference(store, raised=date(2026, 11, 16))  # 6 working days
    assert run_check(store, CHECK, AS_AT, thresholds={"stage0_working_days": 6}) == []
    assert len(run_check(store, CHECK, AS_AT, thresholds={"stage0_working_days": 5})) == 1
