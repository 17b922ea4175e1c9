"""CIN_PLAN_NOT_SMART: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario

CHECK_ID = "CIN_PLAN_NOT_SMART"
SMART_GRACE_WORKING_DAYS = 10

SCENARIOS = [
    Scenario("plan_no_actions", CHECK_ID, False, 0.01, "actions", "open CIN plan with no actions at all"),
    Scenario(
        "action_missing_owner",
        CHECK_ID,
        False,
        0.01,
        "actions",
        "an OPEN action with no owner role, professional or agency",
    ),
    Scenario("action_missing_due", CHECK_ID, False, 0.01, "actions", "an OPEN action with no due date"),
    Scenario("action_missing_outcome", CHECK_ID, False, 0.01, "actions", "an OPEN action with no outcome measure"),
    Scenario(
        "action_overdue", CHECK_ID, False, 0.01, "actions", "an OPEN action due 11 working days before the as-at date"
    ),
    Scenario(
        "action_overdue_edge",
        CHECK_ID,
        True,
        0.005,
        "actions",
        "an OPEN action due exactly 10 working days before the as-at date (inside the grace)",
    ),
    Scenario(
        "dropped_action_incomplete",
        CHECK_ID,
        True,
        0.005,
        "actions",
        "a DROPPED action without owner, due date or outcome (not OPEN)",
    ),
]


def truth(ev, facts):
    rows = []
    for plan in ev.open_plans(facts):
        actions = [a for a in facts.rows["plan_actions"] if a["plan_id"] == plan["cinp_cin_plan_id"]]
        not_smart = not actions
        for action in actions:
            if action["status"] != "OPEN":
                continue
            no_owner = not action["owner_role"] and not action["owner_professional_id"]
            overdue = action["due_date"] is not None and ev.as_at > ev.wd.add(
                action["due_date"], SMART_GRACE_WORKING_DAYS
            )
            if no_owner or action["due_date"] is None or not action["outcome_measure"] or overdue:
                not_smart = True
        if not_smart:
            rows.append((CHECK_ID, facts.person_id, "SOCIAL_CARE", plan["cinp_cin_plan_id"]))
    return rows
