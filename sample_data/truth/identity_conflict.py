"""IDENTITY_CONFLICT: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario

CHECK_ID = "IDENTITY_CONFLICT"
COHORT = "known"  # judged for every LA child known to social care, not only the CiN cohort

SCENARIOS = [
    Scenario("dob_swapped", CHECK_ID, False, 0.01, "identity", "a partner holds the DOB with day and month swapped"),
    Scenario(
        "dob_blank", CHECK_ID, True, 0.005, "identity", "a partner record with no DOB (unknown, not a disagreement)"
    ),
    Scenario(
        "twin_in_index",
        CHECK_ID,
        True,
        0.005,
        "identity",
        "a twin (same DOB, surname, postcode; no NHS number) is in the GP index and belongs to nobody in social care",
    ),
]


def truth(ev, facts):
    return [
        (CHECK_ID, facts.person_id, record["agency"], record["agency_record_id"])
        for record in facts.rows["agency_records"]
        if record["dob"] is not None and record["dob"] != facts.dob
    ]
