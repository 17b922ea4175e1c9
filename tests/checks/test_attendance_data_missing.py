from datetime import date

from check_fixtures import AS_AT, add_child, add_sessions, add_summary

from caseflags.checking.runner import run_check

SCHOOL_AGE_DOB = date(2014, 1, 10)


def _rows(con):
    return {row["person_id"]: row for row in run_check(con, "ATTENDANCE_DATA_MISSING", AS_AT)}


def _pupil(con, person_id, dob=SCHOOL_AGE_DOB, cin=True, upn=True):
    add_child(con, person_id, dob, cin_from=date(2026, 1, 5) if cin else None, upn=f"U-{person_id}" if upn else None)
    return f"U-{person_id}"


def test_fires_when_no_attendance_in_window(store):
    upn = _pupil(store, "NONE")
    add_sessions(store, upn, ["/"] * 10, date(2025, 8, 25))  # ends 2025-08-29, before the window
    add_summary(store, _pupil(store, "OLD_SUMMARY"), date(2024, 9, 1), date(2025, 8, 31), 300, 290)
    rows = _rows(store)
    assert set(rows) == {"NONE", "OLD_SUMMARY"}
    row = rows["NONE"]
    assert (row["agency"], row["entity_type"], row["entity_id"], row["severity"]) == (
        "EDUCATION",
        "child",
        "NONE",
        "MEDIUM",
    )
    assert "2025-09-01 to 2026-11-24" in row["detail"] and "U-NONE" in row["locator"]


def test_fires_with_explanation_when_no_upn_known(store):
    _pupil(store, "NO_UPN", upn=False)
    assert "no valid UPN" in _rows(store)["NO_UPN"]["detail"]


def test_does_not_fire_with_any_data_in_window(store):
    add_sessions(store, _pupil(store, "SESSIONS_LAST_YEAR"), ["/"] * 4, date(2025, 9, 1))
    add_sessions(store, _pupil(store, "NOT_POSSIBLE_ONLY"), ["X"] * 4, date(2026, 9, 1))
    add_summary(store, _pupil(store, "SUMMARY"), date(2025, 7, 1), date(2025, 9, 1), 40, 40)
    _pupil(store, "TOO_YOUNG", dob=date(2021, 9, 1))
    _pupil(store, "TOO_OLD", dob=date(2010, 8, 31))
    _pupil(store, "NOT_CIN", cin=False)
    assert _rows(store) == {}


def test_a_child_who_has_died_is_not_reported_missing_from_school(store):
    add_child(store, "DIED", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5), upn="U-DIED", died=date(2026, 6, 30))
    add_child(store, "DIES_LATER", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5), upn="U-LATER", died=date(2026, 12, 1))
    assert set(_rows(store)) == {"DIES_LATER"}  # a death after the as-at date does not count yet
