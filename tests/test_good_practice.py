"""Good practice seen: each practice shown where the data shows it, and not shown where it does not.

AS_AT is 24 November 2026; the 90-day window runs from 27 August 2026. A visit in every 28-day
span means: first visit by 23 September, no more than 28 days between visits, last visit on or
after 28 October.
"""

from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_meeting, add_voice, insert

from caseflags.checking.good_practice import PRACTICES, good_practice

WINDOW_START = AS_AT - timedelta(days=89)


def cin_child(con, person_id):
    add_child(con, person_id, date(2015, 3, 1), cin_from=date(2025, 1, 5))


def contact(con, contact_id, person_id, day, agency="SOCIAL_CARE", contact_type="HOME_VISIT", joint_with=None):
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


def cin_visit(con, visit_id, person_id, day):
    insert(
        con,
        "ssd_cin_visits",
        cinv_cin_visit_id=visit_id,
        cinv_person_id=person_id,
        cinv_cin_visit_date=day,
        cinv_cin_visit_seen=True,
    )


def shown(rows, practice):
    return sorted(row["person_id"] for row in rows if row["practice"] == practice)


def test_empty_store_shows_nothing(store):
    assert good_practice(store, AS_AT) == []


def test_joint_visits_shown_and_not_shown(store):
    cin_child(store, "JOINT")
    contact(store, "J1", "JOINT", date(2026, 10, 5), agency="SOCIAL_CARE", joint_with="COMMUNITY_HEALTH")
    cin_child(store, "SEPARATE")
    contact(store, "S1", "SEPARATE", date(2026, 10, 5), agency="SOCIAL_CARE")
    contact(store, "S2", "SEPARATE", date(2026, 10, 5), agency="COMMUNITY_HEALTH")
    cin_child(store, "JOINT-PHONE")
    contact(store, "P1", "JOINT-PHONE", date(2026, 10, 5), contact_type="PHONE", joint_with="GP")
    cin_child(store, "JOINT-BEFORE-WINDOW")
    contact(store, "B1", "JOINT-BEFORE-WINDOW", WINDOW_START - timedelta(days=1), joint_with="GP")
    add_child(store, "JOINT-NOT-CIN", date(2015, 3, 1))
    contact(store, "N1", "JOINT-NOT-CIN", date(2026, 10, 5), joint_with="GP")
    rows = good_practice(store, AS_AT)
    assert shown(rows, "JOINT_VISITS") == ["JOINT"]
    [row] = [row for row in rows if row["practice"] == "JOINT_VISITS"]
    assert row["evidence"] == (
        "1 joint visit(s) between 2026-08-27 and 2026-11-24, the latest on 2026-10-05 "
        "(SOCIAL_CARE with COMMUNITY_HEALTH)."
    )


def test_child_attended_review_shown_and_not_shown(store):
    cin_child(store, "ATTENDED")
    add_meeting(store, "R1", "ATTENDED", "CIN_REVIEW", date(2026, 11, 2), child_attended=True)
    cin_child(store, "ABSENT")
    add_meeting(store, "R2", "ABSENT", "CIN_REVIEW", date(2026, 11, 2), child_attended=False)
    cin_child(store, "NOT-A-REVIEW")
    add_meeting(store, "R3", "NOT-A-REVIEW", "STRATEGY", date(2026, 11, 2), child_attended=True)
    cin_child(store, "NOT-HELD")
    add_meeting(
        store, "R4", "NOT-HELD", "EHCP_ANNUAL_REVIEW", date(2026, 11, 2), status="CANCELLED", child_attended=True
    )
    cin_child(store, "TOO-EARLY")
    add_meeting(store, "R5", "TOO-EARLY", "CIN_REVIEW", WINDOW_START - timedelta(days=1), child_attended=True)
    rows = good_practice(store, AS_AT)
    assert shown(rows, "CHILD_ATTENDED_REVIEW") == ["ATTENDED"]
    [row] = [row for row in rows if row["practice"] == "CHILD_ATTENDED_REVIEW"]
    assert "CIN_REVIEW on 2026-11-02" in row["evidence"]


def test_non_verbal_voice_by_observation_shown_and_not_shown(store):
    cin_child(store, "COMM-OBSERVED")
    insert(store, "ssd_disability", disa_person_id="COMM-OBSERVED", disa_disability_code="COMM")
    add_voice(store, "V1", "COMM-OBSERVED", WINDOW_START, "CHILD_OBSERVATION")
    cin_child(store, "COMM-PARENT-ONLY")
    insert(store, "ssd_disability", disa_person_id="COMM-PARENT-ONLY", disa_disability_code="COMM")
    add_voice(store, "V2", "COMM-PARENT-ONLY", date(2026, 10, 1), "MOTHER")
    cin_child(store, "OBSERVED-NOT-COMM")
    insert(store, "ssd_disability", disa_person_id="OBSERVED-NOT-COMM", disa_disability_code="AUT")
    add_voice(store, "V3", "OBSERVED-NOT-COMM", date(2026, 10, 1), "CHILD_OBSERVATION")
    rows = good_practice(store, AS_AT)
    assert shown(rows, "NON_VERBAL_VOICE_BY_OBSERVATION") == ["COMM-OBSERVED"]


def test_regular_family_contact_boundaries(store):
    cin_child(store, "EVERY-28-DAYS")  # gaps of exactly 28 days, from either end too
    for i, day in enumerate([date(2026, 9, 23), date(2026, 10, 21), date(2026, 11, 18)]):
        contact(store, f"E{i}", "EVERY-28-DAYS", day, agency="GP" if i == 1 else "SOCIAL_CARE")
    cin_child(store, "LATE-START")  # first visit on the 29th day of the window
    for i, day in enumerate([date(2026, 9, 24), date(2026, 10, 21), date(2026, 11, 18)]):
        contact(store, f"L{i}", "LATE-START", day)
    cin_child(store, "STOPPED")  # nothing in the last 28 days
    for i, day in enumerate([date(2026, 9, 1), date(2026, 9, 28), date(2026, 10, 27)]):
        contact(store, f"S{i}", "STOPPED", day)
    cin_child(store, "CIN-VISITS")  # social care CiN visits count as visits
    for i, day in enumerate([date(2026, 9, 10), date(2026, 10, 1), date(2026, 10, 29)]):
        cin_visit(store, f"CV{i}", "CIN-VISITS", day)
    contact(store, "CV-HOME", "CIN-VISITS", date(2026, 11, 20), agency="COMMUNITY_HEALTH")
    cin_child(store, "PHONE-ONLY")
    for i in range(0, 90, 7):
        contact(store, f"PH{i}", "PHONE-ONLY", WINDOW_START + timedelta(days=i), contact_type="PHONE")
    rows = good_practice(store, AS_AT)
    assert shown(rows, "REGULAR_FAMILY_CONTACT") == ["CIN-VISITS", "EVERY-28-DAYS"]
    evidence = {row["person_id"]: row["evidence"] for row in rows if row["practice"] == "REGULAR_FAMILY_CONTACT"}
    assert evidence["EVERY-28-DAYS"].endswith("3 visit day(s), the longest gap between visits 28 days.")
    assert "4 visit day(s), the longest gap between visits 28 days" in evidence["CIN-VISITS"]


def test_window_is_a_parameter(store):
    cin_child(store, "C1")
    contact(store, "J1", "C1", AS_AT - timedelta(days=100), joint_with="GP")
    assert good_practice(store, AS_AT) == []
    rows = good_practice(store, AS_AT, window_days=101)
    assert [(row["person_id"], row["practice"]) for row in rows] == [("C1", "JOINT_VISITS")]


def test_one_child_can_show_several_practices_in_report_order(store):
    cin_child(store, "C1")
    insert(store, "ssd_disability", disa_person_id="C1", disa_disability_code="COMM")
    add_voice(store, "V1", "C1", date(2026, 11, 1), "CHILD_OBSERVATION")
    contact(store, "J1", "C1", date(2026, 11, 1), joint_with="EDUCATION")
    add_meeting(store, "R1", "C1", "TRANSITION_REVIEW", date(2026, 11, 1), child_attended=True)
    practices = [row["practice"] for row in good_practice(store, AS_AT)]
    assert practices == sorted(practices)
    assert set(practices) == {"JOINT_VISITS", "CHILD_ATTENDED_REVIEW", "NON_VERBAL_VOICE_BY_OBSERVATION"}
    assert set(practices) <= set(PRACTICES)
