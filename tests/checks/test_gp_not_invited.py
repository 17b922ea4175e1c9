from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_gp_registration, add_meeting, invite

from caseflags.checking.runner import run_check


def _rows(con, **thresholds):
    return {row["entity_id"]: row for row in run_check(con, "GP_NOT_INVITED", AS_AT, thresholds or None)}


def _registered_child(con, person_id="C1", registered_from=date(2015, 1, 1), registered_to=None):
    add_child(con, person_id, date(2014, 5, 1), cin_from=date(2025, 6, 1), nhs=f"N-{person_id}")
    add_gp_registration(con, f"N-{person_id}", registered_from, registered_to, practice="L81001")


def test_fires_for_held_and_scheduled_meetings_without_gp_invitation(store):
    _registered_child(store)
    add_meeting(store, "M1", "C1", "CIN_MEETING", date(2026, 10, 5))
    invite(store, "M1", "SCHOOL", "EDUCATION")
    add_meeting(store, "M2", "C1", "CIN_REVIEW", date(2026, 11, 20), status="SCHEDULED")
    rows = _rows(store)
    assert set(rows) == {"M1", "M2"}
    assert rows["M1"]["agency"] == "SOCIAL_CARE" and rows["M1"]["entity_type"] == "meeting"
    assert "2026-10-05" in rows["M1"]["detail"] and "L81001" in rows["M1"]["detail"]
    assert "scheduled" in rows["M2"]["detail"]


def test_does_not_fire_when_gp_invited_or_other_meeting_or_cancelled(store):
    _registered_child(store)
    add_meeting(store, "M1", "C1", "CIN_MEETING", date(2026, 10, 5))
    invite(store, "M1", "GP", "GP")
    add_meeting(store, "M2", "C1", "CIN_REVIEW", date(2026, 10, 6))
    invite(store, "M2", "OTHER", "GP")  # a GP invited under another role still counts
    add_meeting(store, "M3", "C1", "STRATEGY", date(2026, 10, 7))
    add_meeting(store, "M4", "C1", "CIN_MEETING", date(2026, 10, 8), status="CANCELLED", cancelled=date(2026, 10, 1))
    assert _rows(store) == {}


def test_does_not_fire_without_gp_registration_on_the_meeting_date(store):
    _registered_child(store, registered_from=date(2026, 10, 6))
    add_meeting(store, "M1", "C1", "CIN_MEETING", date(2026, 10, 5))  # day before registration
    _registered_child(store, "C2", registered_to=date(2026, 10, 5))
    add_meeting(store, "M2", "C2", "CIN_MEETING", date(2026, 10, 5))  # registration ended that day
    assert _rows(store) == {}


def test_window_boundaries(store):
    _registered_child(store)
    first_day = AS_AT - timedelta(days=364)
    add_meeting(store, "IN", "C1", "CIN_MEETING", first_day)
    add_meeting(store, "OUT", "C1", "CIN_MEETING", first_day - timedelta(days=1))
    add_meeting(store, "FUTURE", "C1", "CIN_MEETING", AS_AT + timedelta(days=1), status="SCHEDULED")
    assert set(_rows(store)) == {"IN"}
    assert set(_rows(store, window_days=366)) == {"IN", "OUT"}


def test_meetings_after_a_death_raise_nothing_before_it_still_do(store):
    add_child(store, "C1", date(2014, 5, 1), cin_from=date(2025, 6, 1), nhs="N-C1", died=date(2026, 10, 10))
    add_gp_registration(store, "N-C1", date(2015, 1, 1))
    add_meeting(store, "BEFORE", "C1", "CIN_MEETING", date(2026, 10, 5))
    add_meeting(store, "AFTER", "C1", "CIN_REVIEW", date(2026, 11, 20), status="SCHEDULED")
    assert set(_rows(store)) == {"BEFORE"}
