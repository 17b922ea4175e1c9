"""MULTI_AGENCY_VISIT_LOAD: 3+ separate home visits by 2+ agencies in one ISO week, none joint.

AS_AT is Tuesday 24 November 2026; ISO week 2026-W47 is Monday 16 to Sunday 22 November. The
90-day window starts Thursday 27 August 2026, inside ISO week 2026-W35 (24 to 30 August).
"""

from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, insert

from caseflags.checking.runner import run_check

CHECK = "MULTI_AGENCY_VISIT_LOAD"
MONDAY_W47 = date(2026, 11, 16)
WINDOW_START = AS_AT - timedelta(days=89)


def cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2015, 3, 1), cin_from=date(2025, 1, 5))


def visit(con, contact_id, day, agency, *, person_id="C1", contact_type="HOME_VISIT", joint_with=None):
    insert(
        con,
        "family_contacts",
        contact_id=contact_id,
        person_id=person_id,
        agency=agency,
        contact_date=day,
        contact_type=contact_type,
        joint_with_agency=joint_with,
    )


def test_three_home_visits_by_two_agencies_in_a_week_fires(store):
    assert WINDOW_START == date(2026, 8, 27)
    cin_child(store)
    visit(store, "V1", MONDAY_W47, "SOCIAL_CARE")
    visit(store, "V2", MONDAY_W47 + timedelta(days=2), "COMMUNITY_HEALTH")
    visit(store, "V3", MONDAY_W47 + timedelta(days=6), "EARLY_HELP")  # Sunday, same ISO week
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) == (
        "C1",
        "SOCIAL_CARE",
        "child_week",
        "2026-W47",
    )
    assert row["severity"] == "LOW"
    assert "3 separate home visits by 3 agencies" in row["detail"]
    assert "2026-11-16" in row["detail"] and "2026-11-22" in row["detail"]
    assert "family_contacts.contact_id=V1, V2, V3" in row["locator"]


def test_two_visits_or_one_agency_do_not_fire(store):
    cin_child(store, "TWO")
    visit(store, "A1", MONDAY_W47, "SOCIAL_CARE", person_id="TWO")
    visit(store, "A2", MONDAY_W47, "GP", person_id="TWO")
    cin_child(store, "ONE-AGENCY")
    for i in range(4):
        visit(store, f"B{i}", MONDAY_W47 + timedelta(days=i), "SOCIAL_CARE", person_id="ONE-AGENCY")
    assert run_check(store, CHECK, AS_AT) == []


def test_a_joint_visit_in_the_week_stops_it(store):
    cin_child(store)
    visit(store, "V1", MONDAY_W47, "SOCIAL_CARE", joint_with="COMMUNITY_HEALTH")
    visit(store, "V2", MONDAY_W47 + timedelta(days=1), "COMMUNITY_HEALTH")
    visit(store, "V3", MONDAY_W47 + timedelta(days=2), "EDUCATION")
    assert run_check(store, CHECK, AS_AT) == []


def test_visits_split_across_iso_weeks_do_not_fire(store):
    cin_child(store)
    visit(store, "V1", MONDAY_W47 - timedelta(days=1), "SOCIAL_CARE")  # Sunday of W46
    visit(store, "V2", MONDAY_W47, "GP")
    visit(store, "V3", MONDAY_W47 + timedelta(days=1), "GP")
    assert run_check(store, CHECK, AS_AT) == []


def test_other_contact_types_do_not_count(store):
    cin_child(store)
    visit(store, "V1", MONDAY_W47, "SOCIAL_CARE")
    visit(store, "V2", MONDAY_W47, "GP", contact_type="CLINIC")
    visit(store, "V3", MONDAY_W47, "EDUCATION", contact_type="SCHOOL_VISIT")
    visit(store, "V4", MONDAY_W47, "EARLY_HELP", contact_type="PHONE")
    assert run_check(store, CHECK, AS_AT) == []


def test_window_start_cuts_the_first_week(store):
    cin_child(store, "IN")
    visit(store, "I1", WINDOW_START, "SOCIAL_CARE", person_id="IN")
    visit(store, "I2", WINDOW_START + timedelta(days=1), "GP", person_id="IN")
    visit(store, "I3", WINDOW_START + timedelta(days=2), "GP", person_id="IN")
    cin_child(store, "CUT")
    visit(store, "O1", WINDOW_START - timedelta(days=1), "SOCIAL_CARE", person_id="CUT")  # before the window
    visit(store, "O2", WINDOW_START, "GP", person_id="CUT")
    visit(store, "O3", WINDOW_START + timedelta(days=1), "GP", person_id="CUT")
    rows = run_check(store, CHECK, AS_AT)
    assert [(row["person_id"], row["entity_id"]) for row in rows] == [("IN", "2026-W35")]


def test_visits_after_as_at_and_non_cin_children_are_ignored(store):
    cin_child(store)
    visit(store, "V1", date(2026, 11, 23), "SOCIAL_CARE")
    visit(store, "V2", date(2026, 11, 24), "GP")
    visit(store, "V3", date(2026, 11, 25), "GP")  # after D, same ISO week
    add_child(store, "NOT-CIN", date(2015, 3, 1))
    for i, agency in enumerate(["SOCIAL_CARE", "GP", "EDUCATION"]):
        visit(store, f"N{i}", MONDAY_W47, agency, person_id="NOT-CIN")
    assert run_check(store, CHECK, AS_AT) == []


def test_one_row_per_week_and_thresholds_configurable(store):
    cin_child(store)
    for week in range(2):
        monday = MONDAY_W47 - timedelta(weeks=week)
        visit(store, f"S{week}", monday, "SOCIAL_CARE")
        visit(store, f"G{week}", monday, "GP")
        visit(store, f"E{week}", monday, "EDUCATION")
    assert [row["entity_id"] for row in run_check(store, CHECK, AS_AT)] == ["2026-W46", "2026-W47"]
    assert run_check(store, CHECK, AS_AT, thresholds={"min_home_visits": 4}) == []
    assert run_check(store, CHECK, AS_AT, thresholds={"min_agencies": 4}) == []


def test_iso_week_spanning_new_year_is_one_week():
    """28 December 2026 to 3 January 2027 is ISO week 2026-W53."""
    from check_fixtures import new_store

    con = new_store()
    cin_child(con)
    visit(con, "V1", date(2026, 12, 29), "SOCIAL_CARE")
    visit(con, "V2", date(2026, 12, 31), "GP")
    visit(con, "V3", date(2027, 1, 3), "EDUCATION")
    [row] = run_check(con, CHECK, date(2027, 1, 5))
    assert row["entity_id"] == "2026-W53"
    assert "between 2026-12-29 and 2027-01-03" in row["detail"]
    con.close()
