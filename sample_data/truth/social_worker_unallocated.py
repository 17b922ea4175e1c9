"""SOCIAL_WORKER_UNALLOCATED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import is_open
from . import Scenario, has_history

CHECK_ID = "SOCIAL_WORKER_UNALLOCATED"
UNALLOCATED_GRACE_WORKING_DAYS = 5

SCENARIOS = [
    Scenario(
        "sw_unallocated",
        CHECK_ID,
        False,
        0.015,
        "sw",
        "no allocated worker since the last one left weeks ago",
        eligible=has_history,
    ),
    Scenario("sw_unallocated_edge", CHECK_ID, True, 0.005, "sw", "worker left exactly 5 working days ago"),
]


def truth(ev, facts):
    involvements = ev.cw_involvements(facts)
    if any(is_open(i["invo_involvement_start_date"], i["invo_involvement_end_date"], ev.as_at) for i in involvements):
        return []
    ends = [i["invo_involvement_end_date"] for i in involvements if i["invo_involvement_end_date"] is not None]
    plan_starts = [p["cinp_cin_plan_start_date"] for p in ev.open_plans(facts)]
    since = max(ends + plan_starts)
    if ev.as_at > ev.wd.add(since, UNALLOCATED_GRACE_WORKING_DAYS):
        return [(CHECK_ID, facts.person_id, "SOCIAL_CARE", facts.person_id)]
    return []
