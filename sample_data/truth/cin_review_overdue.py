"""CIN_REVIEW_OVERDUE: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import CIN_MEETING_TYPES, in_window
from . import Scenario, has_history

CHECK_ID = "CIN_REVIEW_OVERDUE"
REVIEW_INTERVAL_DAYS = 84

SCENARIOS = [
    Scenario(
        "review_overdue",
        CHECK_ID,
        False,
        0.02,
        "reviews",
        "last CiN meeting held 84 or more days before the as-at date",
        eligible=has_history,
    ),
    Scenario(
        "review_edge",
        CHECK_ID,
        True,
        0.005,
        "reviews",
        "last CiN meeting held exactly 83 days before the as-at date (first day of the interval)",
        eligible=has_history,
    ),
    Scenario("new_plan_no_review", CHECK_ID, True, 0.005, "reviews", "plan started 60 days ago, no meeting held yet"),
]


def truth(ev, facts):
    interval = REVIEW_INTERVAL_DAYS
    reviewed = any(
        m["meeting_type"] in CIN_MEETING_TYPES
        and m["status"] == "HELD"
        and in_window(m["held_date"], ev.as_at, interval)
        for m in facts.rows["meetings"]
    )
    return [
        (CHECK_ID, facts.person_id, "SOCIAL_CARE", plan["cinp_cin_plan_id"])
        for plan in ev.open_plans(facts)
        if (ev.as_at - plan["cinp_cin_plan_start_date"]).days > interval and not reviewed
    ]
