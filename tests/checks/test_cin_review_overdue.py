from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_meeting

from caseflags.checking.runner import run_check

TWELVE_WEEKS = timedelta(weeks=12)


def _rows(con, **thresholds):
    return {row["entity_id"]: row for row in run_check(con, "CIN_REVIEW_OVERDUE", AS_AT, thresholds or None)}


def test_fires_when_last_review_is_older_than_interval(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5), plan_id="P1")
    add_meeting(store, "M1", "C1", "CIN_REVIEW", date(2026, 8, 3))
    row = _rows(store)["P1"]
    assert (row["person_id"], row["agency"], row["entity_type"], row["severity"]) == (
        "C1",
        "SOCIAL_CARE",
        "cin_plan",
        "MEDIUM",
    )
    assert "last reviewed on 2026-08-03" in row["detail"] and "2026-10-26" in row["detail"]
    assert "M1" in row["locator"]


def test_fires_high_when_never_reviewed_for_twice_the_interval(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5), plan_id="P1")
    add_meeting(store, "M0", "C1", "CIN_MEETING", date(2025, 12, 1))  # before the plan: not a review of it
    add_meeting(store, "M1", "C1", "CIN_REVIEW", date(2026, 11, 2), status="CANCELLED", cancelled=date(2026, 11, 1))
    row = _rows(store)["P1"]
    assert row["severity"] == "HIGH" and "no CIN review or meeting held" in row["detail"]


def test_does_not_fire_with_recent_review_or_young_plan(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5), plan_id="P1")
    add_meeting(store, "M1", "C1", "CIN_MEETING", date(2026, 10, 1))
    add_child(store, "C2", date(2015, 1, 1), cin_from=date(2026, 10, 1), plan_id="P2")
    assert _rows(store) == {}


def test_boundary_exactly_twelve_weeks(store):
    # The interval is the 84 days up to and including D: [D - 83 days, D].
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5), plan_id="ON_TIME")
    add_meeting(store, "M1", "C1", "CIN_REVIEW", AS_AT - TWELVE_WEEKS + timedelta(days=1))  # first day inside
    add_child(store, "C2", date(2015, 1, 1), cin_from=date(2026, 1, 5), plan_id="LATE")
    add_meeting(store, "M2", "C2", "CIN_REVIEW", AS_AT - TWELVE_WEEKS)  # the day before the interval
    add_child(store, "C3", date(2015, 1, 1), cin_from=AS_AT - TWELVE_WEEKS + timedelta(days=1), plan_id="NEW_ON_TIME")
    add_child(store, "C4", date(2015, 1, 1), cin_from=AS_AT - TWELVE_WEEKS, plan_id="NEW_LATE")
    assert set(_rows(store)) == {"LATE", "NEW_LATE"}
    assert set(_rows(store, review_interval_weeks=13)) == set()
