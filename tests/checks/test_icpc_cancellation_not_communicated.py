"""ICPC_CANCELLATION_NOT_COMMUNICATED: partners not told of an ICPC cancellation or S47 NFA in time.

AS_AT is Tuesday 24 November 2026. An ICPC cancelled on Tuesday 17 November must be shared by
the 2nd working day after it, Thursday 19 November.
"""

from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_meeting, add_share, insert, invite, new_store

from caseflags.checking.runner import run_check

CHECK = "ICPC_CANCELLATION_NOT_COMMUNICATED"
CANCELLED_ON = date(2026, 11, 17)
DUE_BY = date(2026, 11, 19)


def cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2015, 3, 1), cin_from=date(2025, 1, 5))


def cancelled_icpc(con, meeting_id="ICPC1", person_id="C1", cancelled=CANCELLED_ON, agencies=("GP",)):
    add_meeting(
        con, meeting_id, person_id, "ICPC", cancelled + timedelta(days=3), status="CANCELLED", cancelled=cancelled
    )
    for agency in agencies:
        invite(con, meeting_id, "OTHER", agency=agency, invited=cancelled - timedelta(days=5))


def tell(
    con,
    share_id,
    agency,
    shared,
    *,
    topic="ICPC_CANCELLED",
    person_id="C1",
    event=CANCELLED_ON,
    from_agency="SOCIAL_CARE",
):
    add_share(con, share_id, person_id, from_agency, agency, topic, event, shared)


def test_partner_never_told_fires_high(store):
    cin_child(store)
    cancelled_icpc(store, agencies=("GP",))
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) == (
        "C1",
        "SOCIAL_CARE",
        "icpc_meeting",
        "ICPC1:GP",
    )
    assert row["severity"] == "HIGH"
    assert "2026-11-17" in row["detail"] and DUE_BY.isoformat() in row["detail"]
    assert "not been told since" in row["detail"]
    assert "meetings.meeting_id=ICPC1" in row["locator"]


def test_share_on_second_working_day_is_in_time_third_is_late(store):
    cin_child(store)
    cancelled_icpc(store, agencies=("GP", "EDUCATION", "POLICE"))
    tell(store, "S-GP", "GP", DUE_BY)  # 2nd working day: in time
    tell(store, "S-ED", "EDUCATION", date(2026, 11, 20))  # 3rd working day: late
    tell(store, "S-PO", "POLICE", CANCELLED_ON, topic="S47_OUTCOME")  # same day, other topic: in time
    [row] = run_check(store, CHECK, AS_AT)
    assert row["entity_id"] == "ICPC1:EDUCATION"
    assert row["severity"] == "MEDIUM"
    assert "told late on 2026-11-20" in row["detail"]


def test_not_raised_until_the_limit_has_passed(store):
    cin_child(store)
    cancelled_icpc(store, "DUE-TODAY", cancelled=date(2026, 11, 20))  # due Tuesday 24 November = D
    cancelled_icpc(store, "DUE-MONDAY", cancelled=date(2026, 11, 19))  # due Monday 23 November
    assert [row["entity_id"] for row in run_check(store, CHECK, AS_AT)] == ["DUE-MONDAY:GP"]


def test_limit_skips_christmas_bank_holidays():
    con = new_store()
    cin_child(con)
    cancelled_icpc(con, "XMAS", cancelled=date(2026, 12, 24), agencies=("GP", "EDUCATION"))
    # 25 and 28 December are bank holidays: the 2nd working day after the 24th is the 30th.
    tell(con, "S-GP", "GP", date(2026, 12, 30), event=date(2026, 12, 24))
    tell(con, "S-ED", "EDUCATION", date(2026, 12, 31), event=date(2026, 12, 24))
    rows = run_check(con, CHECK, date(2027, 1, 5))
    assert [row["entity_id"] for row in rows] == ["XMAS:EDUCATION"]
    con.close()


def test_social_care_family_and_other_senders_do_not_count(store):
    cin_child(store)
    cancelled_icpc(store, agencies=("SOCIAL_CARE",))
    invite(store, "ICPC1", "FATHER", agency=None)
    invite(store, "ICPC1", "MOTHER", agency="GP")  # a family role never makes a partner
    assert run_check(store, CHECK, AS_AT) == []

    invite(store, "ICPC1", "SCHOOL", agency="EDUCATION")
    tell(store, "S-WRONG-SENDER", "EDUCATION", CANCELLED_ON, from_agency="GP")
    tell(store, "S-WRONG-TOPIC", "EDUCATION", CANCELLED_ON, topic="MEETING_MINUTES")
    tell(store, "S-BEFORE", "EDUCATION", CANCELLED_ON - timedelta(days=1))
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["entity_id"], row["severity"]) == ("ICPC1:EDUCATION", "HIGH")


def test_held_icpc_and_non_cin_child_do_not_fire(store):
    cin_child(store)
    add_meeting(store, "HELD", "C1", "ICPC", CANCELLED_ON)
    invite(store, "HELD", "GP", agency="GP")
    add_child(store, "C2", date(2015, 3, 1))
    cancelled_icpc(store, "OTHER-CHILD", person_id="C2")
    assert run_check(store, CHECK, AS_AT) == []


def test_event_window_boundary(store):
    cin_child(store)
    cancelled_icpc(store, "IN", cancelled=AS_AT - timedelta(days=364))
    cancelled_icpc(store, "OUT", cancelled=AS_AT - timedelta(days=365))
    assert [row["entity_id"] for row in run_check(store, CHECK, AS_AT)] == ["IN:GP"]


def s47(con, enquiry_id, start, end, nfa=True, person_id="C1"):
    insert(
        con,
        "ssd_s47_enquiry",
        s47e_s47_enquiry_id=enquiry_id,
        s47e_person_id=person_id,
        s47e_s47_start_date=start,
        s47e_s47_end_date=end,
        s47e_s47_nfa=nfa,
    )


def test_s47_nfa_partners_invited_to_strategy_meeting_must_be_told(store):
    cin_child(store)
    start = date(2026, 11, 2)
    s47(store, "S47-1", start, CANCELLED_ON)
    add_meeting(store, "STRAT1", "C1", "STRATEGY", start - timedelta(days=30))  # lookback boundary: counts
    invite(store, "STRAT1", "POLICE", agency="POLICE")
    invite(store, "STRAT1", "SCHOOL", agency="EDUCATION")
    add_meeting(store, "STRAT-OLD", "C1", "STRATEGY", start - timedelta(days=31))  # too early
    invite(store, "STRAT-OLD", "GP", agency="GP")
    tell(store, "S-PO", "POLICE", DUE_BY, topic="S47_OUTCOME")
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["agency"], row["entity_type"], row["entity_id"], row["severity"]) == (
        "SOCIAL_CARE",
        "s47_enquiry",
        "S47-1:EDUCATION",
        "HIGH",
    )
    assert "no further action on 2026-11-17" in row["detail"]
    assert "s47e_s47_enquiry_id=S47-1" in row["locator"] and "STRAT1" in row["locator"]


def test_s47_not_nfa_or_still_open_do_not_fire(store):
    cin_child(store)
    start = date(2026, 11, 2)
    add_meeting(store, "STRAT1", "C1", "STRATEGY", start)
    invite(store, "STRAT1", "POLICE", agency="POLICE")
    s47(store, "TO-ICPC", start, CANCELLED_ON, nfa=False)
    s47(store, "STILL-OPEN", start, None)
    assert run_check(store, CHECK, AS_AT) == []


def test_invitees_of_a_cancelled_strategy_meeting_still_count(store):
    cin_child(store)
    add_meeting(
        store, "STRAT-CANCELLED", "C1", "STRATEGY", date(2026, 9, 1), status="CANCELLED", cancelled=date(2026, 8, 30)
    )
    invite(store, "STRAT-CANCELLED", "GP", agency="GP")
    s47(store, "NFA", date(2026, 9, 10), date(2026, 10, 1))
    assert [row["entity_id"] for row in run_check(store, CHECK, AS_AT)] == ["NFA:GP"]


def test_limit_is_configurable(store):
    cin_child(store)
    cancelled_icpc(store)
    tell(store, "S-GP", "GP", date(2026, 11, 20))  # 3rd working day
    assert len(run_check(store, CHECK, AS_AT)) == 1
    assert run_check(store, CHECK, AS_AT, thresholds={"share_working_days": 3}) == []
