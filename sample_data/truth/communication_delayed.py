"""COMMUNICATION_DELAYED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import MINUTED_MEETING_TYPES, TIMED_SHARE_TOPICS, in_window
from . import Scenario

CHECK_ID = "COMMUNICATION_DELAYED"
COMMUNICATION_LIMIT_WORKING_DAYS = 5
COMMUNICATION_WINDOW_DAYS = 365

SCENARIOS = [
    Scenario(
        "minutes_late", CHECK_ID, False, 0.015, "minutes", "minutes shared on the 6th working day after the meeting"
    ),
    Scenario("minutes_not_shared", CHECK_ID, False, 0.01, "minutes", "minutes of a meeting 30 days ago never shared"),
    Scenario("share_late", CHECK_ID, False, 0.01, "minutes", "a PLAN share sent 7 working days after the plan review"),
    Scenario(
        "minutes_bank_holiday_edge",
        CHECK_ID,
        True,
        0.005,
        "minutes",
        "minutes shared exactly on the 5th working day, the span crossing a bank holiday",
    ),
    Scenario(
        "minutes_pending", CHECK_ID, True, 0.005, "minutes", "meeting held 2 working days ago, minutes not yet due"
    ),
]


def truth(ev, facts):
    rows = []
    limit, window = COMMUNICATION_LIMIT_WORKING_DAYS, COMMUNICATION_WINDOW_DAYS
    for meeting in facts.rows["meetings"]:
        if meeting["meeting_type"] not in MINUTED_MEETING_TYPES or meeting["status"] != "HELD":
            continue
        if not in_window(meeting["held_date"], ev.as_at, window):
            continue
        deadline = ev.wd.add(meeting["held_date"], limit)
        shared = meeting["minutes_shared_date"]
        if (shared is not None and shared > deadline) or (shared is None and ev.as_at > deadline):
            rows.append((CHECK_ID, facts.person_id, "SOCIAL_CARE", meeting["meeting_id"]))
    for share in facts.rows["information_sharing"]:
        if (
            share["topic"] in TIMED_SHARE_TOPICS
            and in_window(share["event_date"], ev.as_at, window)
            and share["shared_date"] > ev.wd.add(share["event_date"], limit)
        ):
            rows.append((CHECK_ID, facts.person_id, share["from_agency"], share["share_id"]))
    return rows
