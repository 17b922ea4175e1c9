"""MULTI_AGENCY_VISIT_LOAD: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from collections import defaultdict

from .._truth import in_window
from . import Scenario

CHECK_ID = "MULTI_AGENCY_VISIT_LOAD"
VISIT_WINDOW_DAYS = 90
VISIT_MIN_CONTACTS = 3
VISIT_MIN_AGENCIES = 2

SCENARIOS = [
    Scenario(
        "visit_overload",
        CHECK_ID,
        False,
        0.015,
        "visits",
        "three home visits by three agencies in one ISO week, none joint",
    ),
    Scenario("visit_load_joint", CHECK_ID, True, 0.005, "visits", "three home visits in one week but one was joint"),
    Scenario(
        "visit_load_one_agency", CHECK_ID, True, 0.005, "visits", "three home visits in one week, all by social care"
    ),
    Scenario(
        "visit_load_week_boundary",
        CHECK_ID,
        True,
        0.005,
        "visits",
        "three home visits Saturday, Sunday and Monday: two ISO weeks",
    ),
]


def truth(ev, facts):
    weeks = defaultdict(list)
    for contact in facts.rows["family_contacts"]:
        if contact["contact_type"] == "HOME_VISIT" and in_window(contact["contact_date"], ev.as_at, VISIT_WINDOW_DAYS):
            weeks[contact["contact_date"].strftime("%G-W%V")].append(contact)
    return [
        (CHECK_ID, facts.person_id, "SOCIAL_CARE", week)
        for week, visits in sorted(weeks.items())
        if len(visits) >= VISIT_MIN_CONTACTS
        and len({v["agency"] for v in visits}) >= VISIT_MIN_AGENCIES
        and all(v["joint_with_agency"] is None for v in visits)
    ]
