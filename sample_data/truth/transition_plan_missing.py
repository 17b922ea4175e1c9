"""TRANSITION_PLAN_MISSING: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from datetime import date, timedelta

from .._calendar import add_months, age_in_years, last_31_august_before
from .._truth import is_open
from . import Scenario

CHECK_ID = "TRANSITION_PLAN_MISSING"
COHORT = "known"  # judged for every LA child known to social care, not only the CiN cohort
TRANSITION_AGE_MONTHS = 186
TRANSITION_YEAR9_AGE = 13

SCENARIOS = [
    Scenario(
        "transition_none",
        CHECK_ID,
        False,
        0.01,
        "transition",
        "CiN young person over 15y6m with no transition plan",
        eligible=lambda c: c.age_aug31 >= 16 and not c.has_ehcp,
    ),
    Scenario(
        "transition_exact_age",
        CHECK_ID,
        False,
        0.004,
        "transition",
        "CiN child exactly 15 years 6 months old on the as-at date, no plan",
        eligible=lambda c: not c.has_ehcp,
        sets_dob=True,
    ),
    Scenario(
        "transition_stale_review",
        CHECK_ID,
        False,
        0.005,
        "transition",
        "transition plan last reviewed about 14 months ago",
        eligible=lambda c: c.age_aug31 >= 16,
    ),
    Scenario(
        "transition_wrong_type",
        CHECK_ID,
        False,
        0.004,
        "transition",
        "only a HEALTH_TRANSITION plan",
        eligible=lambda c: c.age_aug31 >= 16,
    ),
    Scenario(
        "transition_one_day_young",
        CHECK_ID,
        True,
        0.004,
        "transition",
        "CiN child 15y6m tomorrow, no plan",
        eligible=lambda c: not c.has_ehcp,
        sets_dob=True,
    ),
    Scenario(
        "transition_ehcp_year9",
        CHECK_ID,
        False,
        0.05,
        "transition",
        "EHCP (no CiN) aged 13-15 on 31 August, no plan: owner EDUCATION",
        cohort="ehcp_only",
        eligible=lambda c: 13 <= c.age_aug31 <= 14,
    ),
    Scenario(
        "transition_year8_ehcp",
        CHECK_ID,
        True,
        0.03,
        "transition",
        "EHCP (no CiN) aged 12 on 31 August (13 the next day), no plan",
        cohort="ehcp_only",
        sets_dob=True,
    ),
]


def truth(ev, facts):
    cin = ev.is_cin(facts)
    ehcp = ev.has_active_ehcp(facts)
    if not (cin or ehcp):
        return []
    approaching_16 = add_months(facts.dob, TRANSITION_AGE_MONTHS) <= ev.as_at
    from_year_9 = ehcp and age_in_years(facts.dob, last_31_august_before(ev.as_at)) >= TRANSITION_YEAR9_AGE
    if not (approaching_16 or from_year_9):
        return []
    review_cutoff = add_months(ev.as_at, -12)
    planned = any(
        p["plan_type"] in ("PREPARING_FOR_ADULTHOOD", "POST_16")
        and is_open(p["start_date"], p["end_date"], ev.as_at)
        and (p["last_review_date"] or p["start_date"]) >= review_cutoff
        for p in facts.rows["transition_plans"]
    )
    if planned:
        return []
    return [(CHECK_ID, facts.person_id, "SOCIAL_CARE" if cin else "EDUCATION", facts.person_id)]


def before_build(world, person, scenario):
    """The planted ages are exact: the date of birth is fixed before the child is built."""
    if scenario == "transition_exact_age":
        person.dob = add_months(world.as_at, -TRANSITION_AGE_MONTHS)
    elif scenario == "transition_one_day_young":
        person.dob = add_months(world.as_at, -TRANSITION_AGE_MONTHS) + timedelta(days=1)
    elif scenario == "transition_year8_ehcp":
        person.dob = date(world.aug31.year - TRANSITION_YEAR9_AGE, 9, 1)  # 13 the day after 31 August: Year 8
