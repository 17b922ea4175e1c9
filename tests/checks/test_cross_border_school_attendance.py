from region_fixtures import AS_AT, add_link, add_person, new_region_store

from caseflags.checking.runner import run_check


def _rows(con, **thresholds):
    return {
        row["entity_id"]: row for row in run_check(con, "CROSS_BORDER_SCHOOL_ATTENDANCE", AS_AT, thresholds or None)
    }


def _pair(con, home_id, school_id, *, home=(None, None), school=(100, 10)):
    add_person(con, "803", home_id, possible=home[0], missed=home[1])
    add_person(con, "801", school_id, source="EDUCATION", possible=school[0], missed=school[1])
    add_link(con, "803", home_id, "801", school_id)


def test_fires_when_only_the_schools_authority_sees_persistent_absence():
    con = new_region_store()
    _pair(con, "C1", "EDUCATION:E1", school=(100, 10))  # exactly 10 %: counts
    rows = _rows(con)
    assert set(rows) == {"803/C1", "801/EDUCATION:E1"}
    assert rows["803/C1"]["agency"] == "SOCIAL_CARE" and rows["801/EDUCATION:E1"]["agency"] == "EDUCATION"
    assert rows["803/C1"]["severity"] == "MEDIUM"
    assert "10 of 100" in rows["803/C1"]["detail"] and "801" in rows["803/C1"]["detail"]


def test_fires_when_only_the_home_authority_sees_it_and_severity_follows_the_school():
    con = new_region_store()
    _pair(con, "C1", "EDUCATION:E1", home=(100, 30), school=(100, 2))
    _pair(con, "C2", "EDUCATION:E2", school=(100, 60))
    rows = _rows(con)
    assert set(rows) == {"803/C1", "801/EDUCATION:E1", "803/C2", "801/EDUCATION:E2"}
    assert "home authority sees 30 of 100" in rows["801/EDUCATION:E1"]["detail"]
    assert rows["803/C2"]["severity"] == "HIGH" and rows["801/EDUCATION:E2"]["severity"] == "HIGH"


def test_does_not_fire_when_both_or_neither_see_it_or_no_school_over_the_border():
    con = new_region_store()
    _pair(con, "C1", "EDUCATION:E1", home=(100, 20), school=(100, 20))  # both know
    _pair(con, "C2", "EDUCATION:E2", school=(100, 9))  # just under the threshold
    _pair(con, "C3", "EDUCATION:E3", school=(None, None))  # no attendance over the border
    add_person(con, "803", "C4")
    add_person(con, "801", "C5", possible=100, missed=50)  # social care, not a school record
    add_link(con, "803", "C4", "801", "C5")
    assert _rows(con) == {}
    assert set(_rows(con, persistent_absence_pct=9)) == {"803/C2", "801/EDUCATION:E2"}
