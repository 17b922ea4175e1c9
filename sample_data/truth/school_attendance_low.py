"""SCHOOL_ATTENDANCE_LOW: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario, compulsory

CHECK_ID = "SCHOOL_ATTENDANCE_LOW"

SCENARIOS = [
    Scenario(
        "attendance_exact_10pct",
        CHECK_ID,
        False,
        0.01,
        "attendance",
        "exactly 10.0 % of possible sessions missed this academic year",
        eligible=compulsory,
    ),
    Scenario(
        "attendance_severe",
        CHECK_ID,
        False,
        0.01,
        "attendance",
        "about 60 % of possible sessions missed (severe)",
        eligible=compulsory,
    ),
    Scenario(
        "attendance_fallback_prev_year",
        CHECK_ID,
        False,
        0.005,
        "attendance",
        "joined school 5 days ago (10 sessions): previous academic year (about 20 % missed) is the window",
        eligible=lambda c: 6 <= c.age_aug31 <= 15,
    ),
    Scenario(
        "attendance_just_under",
        CHECK_ID,
        True,
        0.01,
        "attendance",
        "missed sessions one short of 10 % (about 90.4 % attendance)",
        eligible=compulsory,
    ),
    Scenario(
        "attendance_twenty_sessions",
        CHECK_ID,
        True,
        0.005,
        "attendance",
        "exactly 20 possible sessions this year, all attended; the poor previous year is not used",
        eligible=lambda c: 6 <= c.age_aug31 <= 15,
    ),
    Scenario(
        "attendance_low_age4",
        CHECK_ID,
        True,
        0.005,
        "attendance",
        "reception child (aged 4 on 31 August) missing 25 % of sessions",
        eligible=lambda c: c.age_aug31 == 4,
    ),
]


def truth(ev, facts):
    if not ev.compulsory_school_age(facts):
        return []
    _, possible, missed = ev.attendance_window(facts)
    if possible > 0 and missed * 10 >= possible:  # 10 % or more missed: exactly 10 % counts
        return [(CHECK_ID, facts.person_id, "EDUCATION", facts.person_id)]
    return []
