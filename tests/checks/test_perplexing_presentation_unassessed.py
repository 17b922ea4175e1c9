"""PERPLEXING_PRESENTATION_UNASSESSED: PP flag without a timely consensus meeting or without the core agencies knowing.

AS_AT is Tuesday 24 November 2026. A flag starting Monday 19 October 2026 needs a PP_CONSENSUS
meeting by its 20th working day after, Monday 16 November. A flag starting Tuesday 27 October
is due on D itself (not yet passed); Monday 26 October is due Monday 23 November (passed).
"""

from datetime import date

from check_fixtures import AS_AT, add_child, add_flag, add_meeting, add_share, link

from caseflags.checking.runner import run_check

CHECK = "PERPLEXING_PRESENTATION_UNASSESSED"
FLAG_START = date(2026, 10, 19)
DUE_BY = date(2026, 11, 16)


def cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2014, 3, 1), cin_from=date(2025, 1, 5))


def keys(rows):
    return sorted((row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) for row in rows)


def gp_flagged_child(con, person_id="C1", start=FLAG_START):
    cin_child(con, person_id)
    link(con, "GP", f"GP-{person_id}", person_id)
    add_flag(con, "GP", f"GP-{person_id}", "PERPLEXING_PRESENTATION", start=start)


def test_flag_without_meeting_or_sharing_fires_consensus_and_lacking_agencies(store):
    gp_flagged_child(store)
    link(store, "EDUCATION", "ED-1", "C1")
    link(store, "MENTAL_HEALTH", "MH-1", "C1")  # not a core agency for this check
    rows = run_check(store, CHECK, AS_AT)
    assert keys(rows) == [
        ("C1", "EDUCATION", "child_agency", "EDUCATION"),
        ("C1", "SOCIAL_CARE", "child_agency", "SOCIAL_CARE"),
        ("C1", "SOCIAL_CARE", "pp_consensus", "PP_CONSENSUS_MEETING"),
    ]
    by_type = {row["entity_type"] + row["agency"]: row for row in rows}
    consensus = by_type["pp_consensusSOCIAL_CARE"]
    assert consensus["severity"] == "HIGH"
    assert "2026-10-19" in consensus["detail"] and DUE_BY.isoformat() in consensus["detail"]
    assert "nor since" in consensus["detail"]
    education = by_type["child_agencyEDUCATION"]
    assert education["severity"] == "MEDIUM"
    assert "flagged in GP since 2026-10-19" in education["detail"]
    assert "agency_record_id=ED-1" in education["locator"]
    assert "GP-C1" not in education["locator"]  # never another agency's record id


def test_meeting_on_the_due_day_is_in_time_one_day_later_is_not(store):
    gp_flagged_child(store, "IN-TIME")
    add_meeting(store, "M-IN", "IN-TIME", "PP_CONSENSUS", DUE_BY)
    gp_flagged_child(store, "LATE")
    add_meeting(store, "M-LATE", "LATE", "PP_CONSENSUS", date(2026, 11, 17))
    consensus = [row for row in run_check(store, CHECK, AS_AT) if row["entity_type"] == "pp_consensus"]
    assert [row["person_id"] for row in consensus] == ["LATE"]
    assert "held late on 2026-11-17" in consensus[0]["detail"]
    assert "meetings.meeting_id=M-LATE" in consensus[0]["locator"]


def test_consensus_row_waits_until_the_limit_has_passed(store):
    gp_flagged_child(store, "DUE-TODAY", start=date(2026, 10, 27))
    gp_flagged_child(store, "DUE-MONDAY", start=date(2026, 10, 26))
    consensus = [row["person_id"] for row in run_check(store, CHECK, AS_AT) if row["entity_type"] == "pp_consensus"]
    assert consensus == ["DUE-MONDAY"]


def test_meeting_before_the_flag_or_not_held_does_not_count(store):
    gp_flagged_child(store)
    add_meeting(store, "M-BEFORE", "C1", "PP_CONSENSUS", date(2026, 10, 16))
    add_meeting(
        store, "M-CANCELLED", "C1", "PP_CONSENSUS", date(2026, 11, 2), status="CANCELLED", cancelled=date(2026, 11, 1)
    )
    add_meeting(store, "M-OTHER-TYPE", "C1", "CIN_MEETING", date(2026, 11, 2))
    assert ("C1", "SOCIAL_CARE", "pp_consensus", "PP_CONSENSUS_MEETING") in keys(run_check(store, CHECK, AS_AT))


def test_everyone_knows_and_meeting_held_does_not_fire(store):
    gp_flagged_child(store)
    link(store, "EDUCATION", "ED-1", "C1")
    add_flag(store, "SOCIAL_CARE", "C1", "PERPLEXING_PRESENTATION", start=date(2026, 10, 20))  # own flag
    add_share(store, "SH1", "C1", "GP", "EDUCATION", "PERPLEXING_PRESENTATION", FLAG_START, date(2026, 10, 21))
    add_meeting(store, "M1", "C1", "PP_CONSENSUS", date(2026, 11, 2))
    assert run_check(store, CHECK, AS_AT) == []


def test_gp_without_flag_is_expected_when_linked(store):
    cin_child(store)
    link(store, "GP", "GP-1", "C1")
    link(store, "EDUCATION", "ED-1", "C1")
    add_flag(store, "EDUCATION", "ED-1", "PERPLEXING_PRESENTATION", start=FLAG_START)
    add_share(store, "SH-SC", "C1", "EDUCATION", "SOCIAL_CARE", "PERPLEXING_PRESENTATION", FLAG_START, FLAG_START)
    add_meeting(store, "M1", "C1", "PP_CONSENSUS", date(2026, 11, 2))
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "GP", "child_agency", "GP")]


def test_wrong_topic_or_future_share_does_not_count(store):
    gp_flagged_child(store)
    add_share(store, "SH-TOPIC", "C1", "GP", "SOCIAL_CARE", "SELF_HARM", FLAG_START, FLAG_START)
    add_share(store, "SH-FUTURE", "C1", "GP", "SOCIAL_CARE", "PERPLEXING_PRESENTATION", FLAG_START, date(2026, 11, 25))
    add_meeting(store, "M1", "C1", "PP_CONSENSUS", date(2026, 11, 2))
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "SOCIAL_CARE", "child_agency", "SOCIAL_CARE")]


def test_ended_future_or_unlinked_flags_and_non_cin_children_do_not_fire(store):
    cin_child(store, "ENDED")
    link(store, "GP", "GP-E", "ENDED")
    add_flag(store, "GP", "GP-E", "PERPLEXING_PRESENTATION", start=FLAG_START, end=AS_AT)
    cin_child(store, "FUTURE")
    link(store, "GP", "GP-F", "FUTURE")
    add_flag(store, "GP", "GP-F", "PERPLEXING_PRESENTATION", start=date(2026, 11, 25))
    cin_child(store, "UNLINKED")
    add_flag(store, "GP", "GP-UNLINKED", "PERPLEXING_PRESENTATION", start=FLAG_START)
    add_child(store, "NOT-CIN", date(2014, 3, 1))
    link(store, "GP", "GP-N", "NOT-CIN")
    add_flag(store, "GP", "GP-N", "PERPLEXING_PRESENTATION", start=FLAG_START)
    assert run_check(store, CHECK, AS_AT) == []


def test_earliest_open_flag_sets_the_deadline(store):
    gp_flagged_child(store, start=date(2026, 11, 10))
    link(store, "EDUCATION", "ED-1", "C1")
    add_flag(store, "EDUCATION", "ED-1", "PERPLEXING_PRESENTATION", start=FLAG_START)
    [consensus] = [row for row in run_check(store, CHECK, AS_AT) if row["entity_type"] == "pp_consensus"]
    assert "since 2026-10-19 (open in EDUCATION, GP)" in consensus["detail"]


def test_limit_is_configurable(store):
    gp_flagged_child(store)
    add_meeting(store, "M1", "C1", "PP_CONSENSUS", date(2026, 11, 17))  # 21st working day
    assert any(row["entity_type"] == "pp_consensus" for row in run_check(store, CHECK, AS_AT))
    rows = run_check(store, CHECK, AS_AT, thresholds={"consensus_meeting_working_days": 21})
    assert not any(row["entity_type"] == "pp_consensus" for row in rows)
