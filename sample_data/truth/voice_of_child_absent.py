"""VOICE_OF_CHILD_ABSENT: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import in_window
from . import Scenario, has_history

CHECK_ID = "VOICE_OF_CHILD_ABSENT"
VOICE_WINDOW_DAYS = 90

SCENARIOS = [
    Scenario("no_child_voice", CHECK_ID, False, 0.03, "child_voice", "only parents' voice in the last 90 days"),
    Scenario(
        "child_voice_day_89",
        CHECK_ID,
        True,
        0.005,
        "child_voice",
        "latest child voice exactly 89 days before the as-at date (first day of the window)",
        eligible=has_history,
    ),
    Scenario(
        "nonverbal_observation",
        CHECK_ID,
        True,
        0.01,
        "child_voice",
        "non-verbal child (COMM) heard by observation only",
    ),
    Scenario(
        "plan_ended_today",
        CHECK_ID,
        True,
        0.0,
        "cohort",
        "CiN plan ended on the as-at date: not CiN, so no voice records is not an exception",
        cohort="closed",
    ),
]


def truth(ev, facts):
    heard = any(
        v["voice_source"].startswith("CHILD_") and in_window(v["recorded_date"], ev.as_at, VOICE_WINDOW_DAYS)
        for v in facts.rows["voice_records"]
    )
    return [] if heard else [(CHECK_ID, facts.person_id, "SOCIAL_CARE", facts.person_id)]


def before_build(world, person, scenario):
    if scenario == "nonverbal_observation":
        person.non_verbal = True
