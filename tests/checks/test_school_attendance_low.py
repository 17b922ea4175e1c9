from datetime import date

from check_fixtures import AS_AT, add_child, add_sessions, add_summary

from caseflags.checking.runner import run_check

THIS_YEAR = date(2026, 9, 1)  # academic year of AS_AT (2026-11-24) starts Tue 1 September
LAST_YEAR = date(2025, 9, 1)
SCHOOL_AGE_DOB = date(2014, 1, 10)


def _rows(con, **thresholds):
    return {row["person_id"]: row for row in run_check(con, "SCHOOL_ATTENDANCE_LOW", AS_AT, thresholds or None)}


def _pupil(con, person_id, dob=SCHOOL_AGE_DOB, cin=True):
    add_child(con, person_id, dob, cin_from=date(2026, 1, 5) if cin else None, upn=f"U-{person_id}")
    return f"U-{person_id}"


def test_exactly_90_percent_attendance_fires(store):
    # 10 missed of 100 possible; the 20 'X' sessions are not possible sessions.
    add_sessions(store, _pupil(store, "EXACT"), ["/"] * 90 + ["N"] * 5 + ["I"] * 5 + ["X"] * 20, THIS_YEAR)
    add_sessions(store, _pupil(store, "JUST_ABOVE"), ["/"] * 91 + ["N"] * 9, THIS_YEAR)
    rows = _rows(store)
    assert set(rows) == {"EXACT"}
    row = rows["EXACT"]
    assert (row["agency"], row["entity_type"], row["entity_id"], row["severity"]) == (
        "EDUCATION",
        "child",
        "EXACT",
        "MEDIUM",
    )
    assert "Missed 10 of 100 possible sessions (10.0 %" in row["detail"]
    assert "5 authorised and 5 unauthorised" in row["detail"] and "2026-09-01 to 2026-11-24" in row["detail"]
    assert "U-EXACT" in row["locator"]


def test_approved_educational_activity_counts_as_attending(store):
    add_sessions(store, _pupil(store, "C1"), ["/"] * 85 + ["K"] * 3 + ["B"] * 3 + ["G"] * 9, THIS_YEAR)
    assert _rows(store) == {}


def test_severe_absence_is_high_at_exactly_50_percent(store):
    add_sessions(store, _pupil(store, "SEVERE"), ["/"] * 50 + ["O"] * 50, THIS_YEAR)
    add_sessions(store, _pupil(store, "PERSISTENT"), ["/"] * 51 + ["O"] * 49, THIS_YEAR)
    rows = _rows(store)
    assert rows["SEVERE"]["severity"] == "HIGH" and "severe absence" in rows["SEVERE"]["detail"]
    assert rows["PERSISTENT"]["severity"] == "MEDIUM"


def test_previous_academic_year_used_until_enough_sessions(store):
    early = _pupil(store, "EARLY")
    add_sessions(store, early, ["/"] * 19, THIS_YEAR)  # 19 possible so far: too few
    add_sessions(store, early, ["/"] * 80 + ["N"] * 20, LAST_YEAR)
    enough = _pupil(store, "ENOUGH")
    add_sessions(store, enough, ["/"] * 20, THIS_YEAR)  # 20 possible: this year decides
    add_sessions(store, enough, ["/"] * 80 + ["N"] * 20, LAST_YEAR)
    rows = _rows(store)
    assert set(rows) == {"EARLY"}
    assert "2025-09-01 to 2026-08-31 (previous academic year" in rows["EARLY"]["detail"]
    assert "Missed 20 of 100" in rows["EARLY"]["detail"]
    assert set(_rows(store, min_possible_sessions=21)) == {"EARLY", "ENOUGH"}


def test_summaries_used_when_pupil_has_no_sessions(store):
    add_summary(store, _pupil(store, "SUMMARY"), date(2026, 9, 1), date(2026, 10, 23), 76, 68, 4, 4)
    add_summary(store, _pupil(store, "OLD_SUMMARY"), date(2024, 9, 1), date(2025, 7, 20), 300, 100)
    both = _pupil(store, "BOTH")
    add_sessions(store, both, ["/"] * 100, THIS_YEAR)
    add_summary(store, both, date(2026, 9, 1), date(2026, 10, 23), 76, 30)
    rows = _rows(store)
    assert set(rows) == {"SUMMARY"}
    assert "Missed 8 of 76" in rows["SUMMARY"]["detail"] and "from attendance summaries" in rows["SUMMARY"]["detail"]
    assert rows["SUMMARY"]["locator"].startswith("attendance_summaries")


def test_compulsory_school_age_boundaries(store):
    codes = ["/"] * 50 + ["N"] * 50
    add_sessions(store, _pupil(store, "AGED_5", dob=date(2021, 8, 31)), codes, THIS_YEAR)
    add_sessions(store, _pupil(store, "AGED_4", dob=date(2021, 9, 1)), codes, THIS_YEAR)
    add_sessions(store, _pupil(store, "AGED_15", dob=date(2010, 9, 1)), codes, THIS_YEAR)
    add_sessions(store, _pupil(store, "AGED_16", dob=date(2010, 8, 31)), codes, THIS_YEAR)
    add_sessions(store, _pupil(store, "NOT_CIN", cin=False), codes, THIS_YEAR)
    assert set(_rows(store)) == {"AGED_5", "AGED_15"}


def test_sessions_after_as_at_are_ignored(store):
    upn = _pupil(store, "C1")
    add_sessions(store, upn, ["/"] * 100, THIS_YEAR)
    add_sessions(store, upn, ["N"] * 40, date(2026, 11, 25))
    assert _rows(store) == {}


def test_a_child_who_has_died_raises_no_attendance_exception(store):
    add_child(store, "DIED", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5), upn="U-DIED", died=AS_AT)
    add_sessions(store, "U-DIED", ["/"] * 50 + ["N"] * 50, THIS_YEAR)
    add_child(store, "ALIVE", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5), upn="U-ALIVE")
    add_sessions(store, "U-ALIVE", ["/"] * 50 + ["N"] * 50, THIS_YEAR)
    assert set(_rows(store)) == {"ALIVE"}
