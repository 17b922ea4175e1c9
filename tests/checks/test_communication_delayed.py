from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_meeting, add_share

from caseflags.checking.runner import run_check

# Thu 2026-08-27; Mon 2026-08-31 is the Summer bank holiday, so the 5th working day after is
# Fri 2026-09-04 (a count that ignored the holiday would give Thu 2026-09-03).
HELD_BEFORE_BANK_HOLIDAY = date(2026, 8, 27)
FIFTH_WORKING_DAY = date(2026, 9, 4)
SIXTH_WORKING_DAY = date(2026, 9, 7)


def _rows(con, **thresholds):
    return {row["entity_id"]: row for row in run_check(con, "COMMUNICATION_DELAYED", AS_AT, thresholds or None)}


def _cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2015, 1, 1), cin_from=date(2025, 6, 2))


def test_minutes_shared_on_fifth_working_day_across_bank_holiday_pass(store):
    _cin_child(store)
    add_meeting(store, "ON_TIME", "C1", "CIN_MEETING", HELD_BEFORE_BANK_HOLIDAY, minutes_shared=FIFTH_WORKING_DAY)
    add_meeting(store, "LATE", "C1", "CIN_REVIEW", HELD_BEFORE_BANK_HOLIDAY, minutes_shared=SIXTH_WORKING_DAY)
    rows = _rows(store)
    assert set(rows) == {"LATE"}
    row = rows["LATE"]
    assert (row["person_id"], row["agency"], row["entity_type"], row["severity"]) == (
        "C1",
        "SOCIAL_CARE",
        "meeting",
        "MEDIUM",
    )
    assert "6 working days" in row["detail"] and "by 2026-09-04" in row["detail"]


def test_shares_across_bank_holiday_owned_by_sharing_agency(store):
    _cin_child(store)
    add_share(store, "S_ON_TIME", "C1", "EDUCATION", "SOCIAL_CARE", "PLAN", HELD_BEFORE_BANK_HOLIDAY, FIFTH_WORKING_DAY)
    add_share(store, "S_LATE", "C1", "ACUTE_HEALTH", "GP", "OTHER", HELD_BEFORE_BANK_HOLIDAY, SIXTH_WORKING_DAY)
    add_share(
        store, "S_OTHER_TOPIC", "C1", "SOCIAL_CARE", "GP", "S47_OUTCOME", HELD_BEFORE_BANK_HOLIDAY, date(2026, 10, 1)
    )
    rows = _rows(store)
    assert set(rows) == {"S_LATE"}
    assert (rows["S_LATE"]["agency"], rows["S_LATE"]["entity_type"]) == ("ACUTE_HEALTH", "information_share")


def test_minutes_not_shared_only_once_limit_has_passed(store):
    _cin_child(store)
    # Tue 2026-11-17: its 5th working day is AS_AT itself, so not yet late.
    add_meeting(store, "DUE_TODAY", "C1", "CORE_GROUP", date(2026, 11, 17))
    add_meeting(store, "OVERDUE", "C1", "ICPC", date(2026, 11, 16))
    add_meeting(store, "SHARED_AFTER_D", "C1", "CP_REVIEW", date(2026, 11, 2), minutes_shared=date(2026, 11, 30))
    rows = _rows(store)
    assert set(rows) == {"OVERDUE", "SHARED_AFTER_D"}
    assert "had not been shared by 2026-11-24" in rows["OVERDUE"]["detail"]


def test_does_not_fire_outside_scope(store):
    _cin_child(store)
    add_meeting(store, "STRATEGY", "C1", "STRATEGY", date(2026, 10, 1))
    add_meeting(store, "SCHEDULED", "C1", "CIN_MEETING", date(2026, 10, 1), status="SCHEDULED")
    add_meeting(store, "OLD", "C1", "CIN_MEETING", AS_AT - timedelta(days=365))
    add_child(store, "C2", date(2015, 1, 1))  # not CiN
    add_meeting(store, "NOT_CIN", "C2", "CIN_MEETING", date(2026, 10, 1))
    add_share(store, "S_NOT_CIN", "C2", "GP", "SOCIAL_CARE", "PLAN", date(2026, 10, 1), date(2026, 11, 1))
    assert _rows(store) == {}


def test_window_and_limit_are_configurable(store):
    _cin_child(store)
    first_day = AS_AT - timedelta(days=364)
    add_meeting(store, "FIRST_DAY", "C1", "CIN_MEETING", first_day)
    add_meeting(store, "BEFORE", "C1", "CIN_MEETING", first_day - timedelta(days=1))
    add_meeting(store, "SIX_DAYS", "C1", "CIN_MEETING", HELD_BEFORE_BANK_HOLIDAY, minutes_shared=SIXTH_WORKING_DAY)
    assert set(_rows(store)) == {"FIRST_DAY", "SIX_DAYS"}
    assert set(_rows(store, window_days=366, limit_working_days=6)) == {"FIRST_DAY", "BEFORE"}
