"""ICPC_CANCELLATION_NOT_COMMUNICATED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from datetime import timedelta

from .._truth import FAMILY_INVITEES, in_window, meeting_date
from . import Scenario, has_history

CHECK_ID = "ICPC_CANCELLATION_NOT_COMMUNICATED"
ICPC_WINDOW_DAYS = 365
ICPC_LIMIT_WORKING_DAYS = 2

SCENARIOS = [
    Scenario(
        "icpc_cancelled_unshared", CHECK_ID, False, 0.008, "s47", "ICPC cancelled, one invited partner never told"
    ),
    Scenario(
        "s47_nfa_unshared", CHECK_ID, False, 0.008, "s47", "S47 ended NFA, one strategy-meeting partner never told"
    ),
    Scenario(
        "icpc_share_late",
        CHECK_ID,
        False,
        0.005,
        "s47",
        "ICPC cancellation shared with one partner on the 3rd working day",
    ),
    Scenario(
        "icpc_share_edge",
        CHECK_ID,
        True,
        0.005,
        "s47",
        "ICPC cancellation shared on exactly the 2nd working day, across a bank holiday",
    ),
    Scenario(
        "icpc_pending",
        CHECK_ID,
        True,
        0.005,
        "s47",
        "ICPC cancelled 1 working day ago, not yet shared (limit not passed)",
    ),
    Scenario(
        "s47_nfa_old",
        CHECK_ID,
        True,
        0.005,
        "s47",
        "S47 NFA 400 days ago never shared (outside the window)",
        eligible=has_history,
    ),
]


def truth(ev, facts):
    window, limit = ICPC_WINDOW_DAYS, ICPC_LIMIT_WORKING_DAYS
    invitations = ev.invitations_by_meeting(facts)
    events = []  # (entity prefix, event date, invited partner agencies)
    for meeting in facts.rows["meetings"]:
        if meeting["meeting_type"] == "ICPC" and meeting["status"] == "CANCELLED":
            events.append(
                (
                    meeting["meeting_id"],
                    meeting["cancelled_date"] or meeting["scheduled_date"],
                    invitations[meeting["meeting_id"]],
                )
            )
    for enquiry in facts.rows["ssd_s47_enquiry"]:
        if enquiry["s47e_s47_nfa"] is True and enquiry["s47e_s47_end_date"] is not None:
            start = enquiry["s47e_s47_start_date"]
            invited = [
                i
                for m in facts.rows["meetings"]
                if m["meeting_type"] == "STRATEGY" and start - timedelta(days=30) <= meeting_date(m) <= start
                for i in invitations[m["meeting_id"]]
            ]
            events.append((enquiry["s47e_s47_enquiry_id"], enquiry["s47e_s47_end_date"], invited))
    rows = []
    for entity, event_date, invited in events:
        if not in_window(event_date, ev.as_at, window):
            continue
        deadline = ev.wd.add(event_date, limit)
        if ev.as_at <= deadline:
            continue
        partners = sorted(
            {
                i["agency"]
                for i in invited
                if i["agency"] and i["agency"] != "SOCIAL_CARE" and i["invitee_role"] not in FAMILY_INVITEES
            }
        )
        for agency in partners:
            told = any(
                s["from_agency"] == "SOCIAL_CARE"
                and s["to_agency"] == agency
                and s["topic"] in ("ICPC_CANCELLED", "S47_OUTCOME")
                and event_date <= s["shared_date"] <= deadline
                for s in facts.rows["information_sharing"]
            )
            if not told:
                rows.append((CHECK_ID, facts.person_id, "SOCIAL_CARE", f"{entity}:{agency}"))
    return rows
