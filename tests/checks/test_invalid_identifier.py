"""INVALID_IDENTIFIER: the ingest's reason reaches the exception, most basic first."""

import polars as pl
from check_fixtures import AS_AT

from caseflags.checking.runner import run_check
from caseflags.ingest.extracts import find_identifier_issues


def _issues(store, upns: list[str]) -> None:
    people = pl.DataFrame(
        {
            "_line": list(range(2, 2 + len(upns))),
            "pers_person_id": [f"P{i}" for i in range(len(upns))],
            "pers_upn": upns,
            "pers_single_unique_id": [None] * len(upns),
        },
        schema_overrides={"pers_single_unique_id": pl.Utf8},
    )
    issues = find_identifier_issues("ssd_person", "ssd_person.csv", people)
    store.register("_issues", issues)
    store.execute("INSERT INTO identifier_issues BY NAME SELECT * FROM _issues")
    store.unregister("_issues")


def test_a_14_character_upn_is_reported_as_the_wrong_length(store):
    # J803123424001 is valid; with a digit added it is the wrong length, with A its check letter fails.
    _issues(store, ["J8031234240011", "A803123424001", "J80312342400", "J803123424001", "J8031234X4001"])
    details = {row["entity_id"]: row["detail"] for row in run_check(store, "INVALID_IDENTIFIER", AS_AT)}
    assert set(details) == {"ssd_person:2", "ssd_person:3", "ssd_person:4", "ssd_person:6"}  # line 5 is valid
    assert "has 14 characters, not 13, so this record cannot be matched" in details["ssd_person:2"]
    assert "fails its DfE check letter" in details["ssd_person:3"]
    assert "has 12 characters, not 13" in details["ssd_person:4"]
    assert "is not a letter, 11 digits and a digit or letter" in details["ssd_person:6"]
