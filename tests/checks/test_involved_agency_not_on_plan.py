"""INVOLVED_AGENCY_NOT_ON_PLAN: an involved agency owns no action on the open CIN plan."""

from datetime import date

from check_fixtures import (
    AS_AT,
    add_action,
    add_child,
    add_cin_plan,
    add_flag,
    add_meeting,
    add_social_worker,
    insert,
    invite,
    link,
)

from caseflags.checking.runner import run_check

CHECK = "INVOLVED_AGENCY_NOT_ON_PLAN"


def keys(rows):
    return sorted((row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) for row in rows)


def cin_child(con, person_id="C1"):
    """A CiN child on plan P-<id> with one social care action."""
    add_child(con, person_id, date(2014, 3, 1), cin_from=date(2026, 1, 5))
    add_action(con, f"A-SC-{person_id}", f"P-{person_id}", person_id, owner_agency="SOCIAL_CARE")


def flagged(con, agency, person_id="C1", flag_type="CIN"):
    record_id = f"{agency}-{person_id}"
    link(con, agency, record_id, person_id)
    add_flag(con, agency, record_id, flag_type, start=date(2026, 2, 1))


def test_flagging_agency_without_action_fires(store):
    cin_child(store)
    flagged(store, "GP")
    rows = run_check(store, CHECK, AS_AT)
    assert keys(rows) == [("C1", "SOCIAL_CARE", "plan_agency", "P-C1:GP")]
    [row] = rows
    assert row["severity"] == "MEDIUM"
    assert "GP is involved with the child (open CIN flag)" in row["detail"]
    assert "none of the 1 action(s)" in row["detail"] and "2026-01-05" in row["detail"]
    assert "cinp_cin_plan_id=P-C1" in row["locator"]


def test_agency_owning_an_action_does_not_fire(store):
    cin_child(store)
    flagged(store, "GP")
    flagged(store, "EDUCATION", flag_type="EHCP")
    add_action(store, "A-GP", "P-C1", "C1", owner_agency="GP", status="DONE")
    insert(store, "ssd_professionals", prof_professional_id="TEACHER1", prof_agency="EDUCATION")
    add_action(store, "A-ED", "P-C1", "C1", owner_agency=None, owner_professional_id="TEACHER1")
    assert run_check(store, CHECK, AS_AT) == []


def test_actions_on_other_plans_do_not_count_any_status_on_this_plan_does(store):
    cin_child(store)
    flagged(store, "GP")
    add_action(store, "A-GP-OLD-PLAN", "P-OLD", "C1", owner_agency="GP")
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "SOCIAL_CARE", "plan_agency", "P-C1:GP")]
    add_action(store, "A-GP-DROPPED", "P-C1", "C1", owner_agency="GP", status="DROPPED")
    assert run_check(store, CHECK, AS_AT) == []


def test_invited_to_last_held_cin_meeting_counts_earlier_or_unheld_do_not(store):
    cin_child(store)
    add_meeting(store, "M-EARLIER", "C1", "CIN_MEETING", date(2026, 9, 1))
    invite(store, "M-EARLIER", "POLICE", agency="POLICE")
    add_meeting(store, "M-LAST", "C1", "CIN_REVIEW", date(2026, 11, 3))
    invite(store, "M-LAST", "SCHOOL", agency="EDUCATION")
    invite(store, "M-LAST", "MOTHER")  # family: no agency
    add_meeting(store, "M-NEXT", "C1", "CIN_MEETING", date(2026, 12, 1), status="SCHEDULED")
    invite(store, "M-NEXT", "CAMHS", agency="MENTAL_HEALTH")
    add_meeting(store, "M-OTHER", "C1", "CORE_GROUP", date(2026, 11, 20))
    invite(store, "M-OTHER", "YJS", agency="YJS")
    rows = run_check(store, CHECK, AS_AT)
    assert keys(rows) == [("C1", "SOCIAL_CARE", "plan_agency", "P-C1:EDUCATION")]
    assert "invited to the CiN meeting held 2026-11-03" in rows[0]["detail"]


def test_open_involvements_count_by_professional_agency(store):
    cin_child(store)
    insert(store, "ssd_professionals", prof_professional_id="HV1", prof_agency="COMMUNITY_HEALTH")
    add_social_worker(store, "C1", "HV1", date(2026, 3, 1), role="HEALTH_VISITOR")
    add_social_worker(store, "C1", "SW1", date(2026, 1, 5))  # social care's own worker
    insert(store, "ssd_professionals", prof_professional_id="PC1", prof_agency="POLICE")
    add_social_worker(store, "C1", "PC1", date(2026, 1, 5), end=date(2026, 6, 1), role="PCSO")  # ended
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "SOCIAL_CARE", "plan_agency", "P-C1:COMMUNITY_HEALTH")]


def test_social_care_without_an_action_is_listed_too(store):
    add_child(store, "C1", date(2014, 3, 1), cin_from=date(2026, 1, 5))
    add_social_worker(store, "C1", "SW1", date(2026, 1, 5))
    rows = run_check(store, CHECK, AS_AT)
    assert keys(rows) == [("C1", "SOCIAL_CARE", "plan_agency", "P-C1:SOCIAL_CARE")]
    assert "none of the 0 action(s)" in rows[0]["detail"]


def test_each_open_plan_is_checked_closed_plans_and_non_cin_are_not(store):
    cin_child(store)
    add_cin_plan(store, "C1", "P-C1-SECOND", date(2026, 6, 1))
    add_cin_plan(store, "C1", "P-C1-CLOSED", date(2025, 1, 1), date(2025, 12, 31))
    flagged(store, "GP")
    add_child(store, "C2", date(2014, 3, 1))
    flagged(store, "GP", person_id="C2")
    assert keys(run_check(store, CHECK, AS_AT)) == [
        ("C1", "SOCIAL_CARE", "plan_agency", "P-C1-SECOND:GP"),
        ("C1", "SOCIAL_CARE", "plan_agency", "P-C1:GP"),
    ]


def test_closed_or_unlinked_flags_do_not_make_an_agency_involved(store):
    cin_child(store)
    link(store, "GP", "GP-1", "C1")
    add_flag(store, "GP", "GP-1", "CIN", start=date(2026, 2, 1), end=date(2026, 11, 24))  # ended on D
    add_flag(store, "POLICE", "PO-UNLINKED", "CP", start=date(2026, 2, 1))
    assert run_check(store, CHECK, AS_AT) == []
