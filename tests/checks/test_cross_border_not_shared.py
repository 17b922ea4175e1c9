from datetime import date

from region_fixtures import AS_AT, add_link, add_person, new_region_store

from caseflags.checking.runner import run_check


def _rows(con, **thresholds):
    return {row["entity_id"]: row for row in run_check(con, "CROSS_BORDER_NOT_SHARED", AS_AT, thresholds or None)}


def test_fires_to_both_authorities_when_the_other_holds_no_cin_flag():
    con = new_region_store()
    add_person(con, "803", "C1", cin_since=date(2026, 1, 5))
    add_person(con, "801", "EDUCATION:E1", source="EDUCATION", cin_known=False)
    add_link(con, "803", "C1", "801", "EDUCATION:E1")
    rows = _rows(con)
    assert set(rows) == {"803/C1", "801/EDUCATION:E1"}
    home, other = rows["803/C1"], rows["801/EDUCATION:E1"]
    assert (home["person_id"], home["agency"], home["severity"]) == ("C1", "SOCIAL_CARE", "HIGH")
    assert (other["person_id"], other["agency"]) == (None, "EDUCATION")
    assert "2026-01-05" in home["detail"] and "801 education" in home["detail"]
    assert "803" in other["detail"] and "(UPN)" in other["locator"]


def test_does_not_fire_when_the_other_authority_knows_or_the_child_is_not_in_need():
    con = new_region_store()
    add_person(con, "803", "C1", cin_since=date(2026, 1, 5))
    add_person(con, "801", "EDUCATION:E1", source="EDUCATION", cin_known=False)
    add_person(con, "801", "C9", cin_known=True)  # 801's social care has the child on a CiN plan
    add_link(con, "803", "C1", "801", "EDUCATION:E1")
    add_link(con, "803", "C1", "801", "C9")
    add_person(con, "803", "C2")  # not in need
    add_person(con, "802", "EDUCATION:E2", source="EDUCATION", cin_known=False)
    add_link(con, "803", "C2", "802", "EDUCATION:E2")
    add_person(con, "803", "C3", cin_since=date(2026, 1, 5))
    add_person(con, "803", "C4", cin_since=date(2026, 1, 5))
    add_link(con, "803", "C3", "803", "C4")  # same authority: not cross-border
    assert _rows(con) == {}


def test_a_plan_opened_within_min_days_open_is_not_yet_expected_to_be_shared():
    con = new_region_store()
    add_person(con, "803", "C1", cin_since=date(2026, 11, 20))  # 4 days before the as-at date
    add_person(con, "801", "EDUCATION:E1", source="EDUCATION", cin_known=False)
    add_link(con, "803", "C1", "801", "EDUCATION:E1")
    assert _rows(con) == {}
    assert set(_rows(con, min_days_open=4)) == {"803/C1", "801/EDUCATION:E1"}  # exactly the threshold counts


def test_one_home_row_for_a_child_known_to_two_neighbours():
    con = new_region_store()
    add_person(con, "803", "C1", cin_since=date(2026, 1, 5))
    for la_code in ("801", "802"):
        add_person(con, la_code, "EDUCATION:E1", source="EDUCATION", cin_known=False)
        add_link(con, "803", "C1", la_code, "EDUCATION:E1", method="PROBABILISTIC")
    rows = _rows(con)
    assert set(rows) == {"803/C1", "801/EDUCATION:E1", "802/EDUCATION:E1"}
    assert "801 education, 802 education" in rows["803/C1"]["detail"]
