"""IDENTITY_UNMATCHED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario, compulsory

CHECK_ID = "IDENTITY_UNMATCHED"

SCENARIOS = [
    Scenario(
        "no_education_record",
        CHECK_ID,
        False,
        0.01,
        "identity",
        "school-age CiN child unknown to education",
        eligible=compulsory,
    ),
    Scenario(
        "no_education_age4",
        CHECK_ID,
        True,
        0.005,
        "identity",
        "aged 4 on 31 August, no education record",
        eligible=lambda c: c.age_aug31 == 4,
    ),
]


def truth(ev, facts):
    linked = ev.linked_agencies(facts)
    expected = ["GP"] + (["EDUCATION"] if ev.compulsory_school_age(facts) else [])
    return [(CHECK_ID, facts.person_id, agency, agency) for agency in sorted(expected) if agency not in linked]
