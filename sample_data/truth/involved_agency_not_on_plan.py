"""INVOLVED_AGENCY_NOT_ON_PLAN: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import CIN_MEETING_TYPES
from . import Scenario

CHECK_ID = "INVOLVED_AGENCY_NOT_ON_PLAN"

SCENARIOS = [
    Scenario(
        "agency_not_on_plan", CHECK_ID, False, 0.02, "plan_agencies", "a partner with an open flag owns no plan action"
    ),
    Scenario(
        "agency_flag_closed",
        CHECK_ID,
        True,
        0.005,
        "plan_agencies",
        "a partner whose only flag has ended, not invited, owns no action",
        eligible=lambda c: not c.has_ehcp,
    ),
]


def truth(ev, facts):
    involved = {f["agency"] for f in ev.open_flags(facts)}
    if ev.open_involvement(facts):
        involved.add("SOCIAL_CARE")
    held = [
        m
        for m in facts.rows["meetings"]
        if m["meeting_type"] in CIN_MEETING_TYPES and m["status"] == "HELD" and m["held_date"] <= ev.as_at
    ]
    if held:
        last = max(held, key=lambda m: (m["held_date"], m["meeting_id"]))
        involved |= {
            i["agency"]
            for i in facts.rows["meeting_invitations"]
            if i["meeting_id"] == last["meeting_id"] and i["agency"]
        }
    rows = []
    for plan in ev.open_plans(facts):
        owners = {a["owner_agency"] for a in facts.rows["plan_actions"] if a["plan_id"] == plan["cinp_cin_plan_id"]}
        rows += [
            (CHECK_ID, facts.person_id, "SOCIAL_CARE", f"{plan['cinp_cin_plan_id']}:{agency}")
            for agency in sorted(involved - owners)
        ]
    return rows
