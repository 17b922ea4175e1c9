"""GP_NOT_KNOWN: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario

CHECK_ID = "GP_NOT_KNOWN"

SCENARIOS = [
    Scenario("gp_none", CHECK_ID, False, 0.01, "gp", "no GP registration and no GP record at all"),
    Scenario("gp_ended", CHECK_ID, False, 0.01, "gp", "GP registration ended weeks ago (moved away)"),
    Scenario("gp_registered_today", CHECK_ID, True, 0.005, "gp", "new GP registration starting on the as-at date"),
]


def truth(ev, facts):
    if ev.gp_registered_on(facts, ev.as_at):
        return []
    return [(CHECK_ID, facts.person_id, "SOCIAL_CARE", facts.person_id)]
