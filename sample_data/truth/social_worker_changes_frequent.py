"""SOCIAL_WORKER_CHANGES_FREQUENT: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from datetime import timedelta

from . import Scenario, has_history

CHECK_ID = "SOCIAL_WORKER_CHANGES_FREQUENT"
SW_CHANGE_WINDOW_DAYS = 365
SW_CHANGE_THRESHOLD = 3

SCENARIOS = [
    Scenario(
        "sw_three_in_year",
        CHECK_ID,
        False,
        0.02,
        "sw",
        "three social workers in the last 365 days",
        eligible=has_history,
    ),
    Scenario(
        "sw_two_in_year",
        CHECK_ID,
        True,
        0.01,
        "sw",
        "exactly two social workers in the last 365 days",
        eligible=has_history,
    ),
    Scenario(
        "sw_back_to_first",
        CHECK_ID,
        True,
        0.005,
        "sw",
        "A then B then A again: two distinct workers",
        eligible=has_history,
    ),
]


def truth(ev, facts):
    window_start = ev.as_at - timedelta(days=SW_CHANGE_WINDOW_DAYS - 1)
    workers = {
        i["invo_professional_id"]
        for i in ev.cw_involvements(facts)
        if i["invo_involvement_start_date"] <= ev.as_at
        and (i["invo_involvement_end_date"] is None or i["invo_involvement_end_date"] > window_start)
    }
    if len(workers) >= SW_CHANGE_THRESHOLD:
        return [(CHECK_ID, facts.person_id, "SOCIAL_CARE", facts.person_id)]
    return []
