"""ATTENDANCE_DATA_MISSING: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario, compulsory

CHECK_ID = "ATTENDANCE_DATA_MISSING"

SCENARIOS = [
    Scenario(
        "no_attendance",
        CHECK_ID,
        False,
        0.01,
        "attendance",
        "compulsory-school-age CiN child with no attendance rows",
        eligible=compulsory,
    ),
    Scenario(
        "attendance_summary_only",
        CHECK_ID,
        True,
        0.005,
        "attendance",
        "school sends a termly summary instead of sessions",
        eligible=compulsory,
    ),
    Scenario(
        "no_attendance_age16",
        CHECK_ID,
        True,
        0.005,
        "attendance",
        "aged 16 on 31 August (beyond compulsory school age), no attendance",
        eligible=lambda c: c.age_aug31 == 16,
    ),
]


def truth(ev, facts):
    if not ev.compulsory_school_age(facts):
        return []
    rows_seen, _, _ = ev.attendance_window(facts)
    return [(CHECK_ID, facts.person_id, "EDUCATION", facts.person_id)] if rows_seen == 0 else []
