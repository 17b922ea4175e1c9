"""ESCALATION_NOT_USED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario

CHECK_ID = "ESCALATION_NOT_USED"
ESCALATION_STAGE0_WORKING_DAYS = 5
ESCALATION_STAGE_WORKING_DAYS = 10

SCENARIOS = [
    Scenario(
        "difference_stage0_stale",
        CHECK_ID,
        False,
        0.01,
        "difference",
        "disagreement recorded, not escalated, for more than 5 working days",
    ),
    Scenario(
        "difference_stage_stale",
        CHECK_ID,
        False,
        0.01,
        "difference",
        "escalation stuck at stage 2 for more than 10 working days",
    ),
    Scenario(
        "difference_stage0_edge", CHECK_ID, True, 0.005, "difference", "disagreement raised exactly 5 working days ago"
    ),
    Scenario(
        "difference_stage_edge", CHECK_ID, True, 0.005, "difference", "stage 3 reached exactly 10 working days ago"
    ),
]


def truth(ev, facts):
    rows = []
    for difference in facts.rows["professional_differences"]:
        if difference["resolved_date"] is not None and difference["resolved_date"] <= ev.as_at:
            continue
        if difference["current_stage"] == 0:
            stale = ev.as_at > ev.wd.add(difference["raised_date"], ESCALATION_STAGE0_WORKING_DAYS)
        else:
            since = difference["stage_date"] or difference["raised_date"]
            stale = ev.as_at > ev.wd.add(since, ESCALATION_STAGE_WORKING_DAYS)
        if stale:
            rows.append((CHECK_ID, facts.person_id, difference["raised_by_agency"], difference["difference_id"]))
    return rows
