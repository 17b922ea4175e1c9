"""INVALID_IDENTIFIER: its planted cases and the truth it implies (docs/GENERATOR.md).

Its truth is keyed by file line (`<table>:<line>`), which only the delivery writer knows, so the
generator's writer asks `row_truth` of every row it writes and `attendance_truth` of each pupil's
block of sessions; `truth` (per child) adds nothing.
"""

from .._identifiers import is_valid_nhs_number, is_valid_upn
from . import Scenario

CHECK_ID = "INVALID_IDENTIFIER"

SCENARIOS = [
    Scenario(
        "invalid_nhs_in_ssd",
        CHECK_ID,
        False,
        0.005,
        "ssd_identifier",
        "pers_single_unique_id with a wrong modulus-11 check digit",
    ),
    Scenario(
        "invalid_upn_in_ssd",
        CHECK_ID,
        False,
        0.005,
        "ssd_identifier",
        "pers_upn with a wrong check letter",
        eligible=lambda c: c.age_aug31 >= 4,
    ),
    Scenario(
        "invalid_linked_identifier",
        CHECK_ID,
        False,
        0.005,
        "ssd_identifier",
        "ssd_linked_identifiers NHS number with a wrong check digit",
    ),
    Scenario(
        "nhs_with_spaces",
        CHECK_ID,
        True,
        0.01,
        "ssd_identifier",
        "NHS number delivered as '999 123 4567' by a health partner (valid)",
    ),
]

# Identifier columns validated as rows are written: (column, "NHS"|"UPN"), owner of the row.
IDENTIFIER_COLUMNS = {
    "ssd_person": [("pers_upn", "UPN"), ("pers_single_unique_id", "NHS")],
    "agency_records": [("nhs_number", "NHS"), ("upn", "UPN")],
    "gp_registrations": [("nhs_number", "NHS")],
    "ehcp_plans": [("upn", "UPN")],
    "attendance_summaries": [("upn", "UPN")],
}
ROW_OWNER = {
    "gp_registrations": "GP",
    "ehcp_plans": "EDUCATION",
    "attendance_summaries": "EDUCATION",
    "attendance_sessions": "EDUCATION",
}
LINKED_IDENTIFIER_KINDS = {"NHS Number": "NHS", "Unique Pupil Number": "UPN"}


def truth(ev, facts):
    return []


def identifier_is_valid(kind: str, value: str) -> bool:
    return is_valid_nhs_number(value) if kind == "NHS" else is_valid_upn(value)


def identifier_columns(table: str, row: dict):
    if table == "ssd_linked_identifiers":
        kind = LINKED_IDENTIFIER_KINDS.get(row["link_identifier_type"])
        return [("link_identifier_value", kind)] if kind else []
    return IDENTIFIER_COLUMNS.get(table, [])


def row_truth(table: str, row: dict, line: int) -> list[tuple[str, str, str, str]]:
    """One row per invalid identifier of a written row, keyed `<table>:<line>`."""
    found = []
    for column, kind in identifier_columns(table, row):
        value = row.get(column)
        if value and not identifier_is_valid(kind, str(value)):
            owner = (
                "SOCIAL_CARE"
                if table.startswith("ssd_")
                else row["agency"]
                if table == "agency_records"
                else ROW_OWNER[table]
            )
            carried = row.get("pers_person_id") or row.get("link_person_id") or row.get("la_person_id") or ""
            found.append((CHECK_ID, carried, owner, f"{table}:{line}"))
    return found


def attendance_truth(upn: str, first_line: int) -> list[tuple[str, str, str, str]]:
    """One row per distinct invalid UPN of attendance_sessions, at its first line."""
    return [] if is_valid_upn(upn) else [(CHECK_ID, "", "EDUCATION", f"attendance_sessions:{first_line}")]
