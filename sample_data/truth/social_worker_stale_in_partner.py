"""SOCIAL_WORKER_STALE_IN_PARTNER: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import is_open
from . import Scenario, has_history

CHECK_ID = "SOCIAL_WORKER_STALE_IN_PARTNER"
STALE_SW_GRACE_WORKING_DAYS = 10

SCENARIOS = [
    Scenario(
        "sw_stale_flag",
        CHECK_ID,
        False,
        0.015,
        "sw",
        "a partner still names the previous social worker weeks after the change",
        eligible=has_history,
    ),
    Scenario(
        "sw_never_allocated_flag",
        CHECK_ID,
        False,
        0.005,
        "sw",
        "a partner names a social worker never allocated to the child",
    ),
    Scenario(
        "sw_stale_edge",
        CHECK_ID,
        True,
        0.005,
        "sw",
        "a partner names the previous worker, who left exactly 10 working days ago",
        eligible=has_history,
    ),
]


def truth(ev, facts):
    rows, seen = [], set()
    involvements = ev.cw_involvements(facts)
    for flag in ev.open_flags(facts, "SOCIAL_WORKER"):
        worker = [i for i in involvements if i["invo_professional_id"] == flag["flag_value"]]
        if any(is_open(i["invo_involvement_start_date"], i["invo_involvement_end_date"], ev.as_at) for i in worker):
            continue
        ended = [i["invo_involvement_end_date"] for i in worker if i["invo_involvement_end_date"] is not None]
        stale = not worker or ev.as_at > ev.wd.add(max(ended), STALE_SW_GRACE_WORKING_DAYS)
        key = (flag["agency"], flag["agency_record_id"])
        if stale and key not in seen:
            seen.add(key)
            rows.append((CHECK_ID, facts.person_id, flag["agency"], flag["agency_record_id"]))
    return rows
