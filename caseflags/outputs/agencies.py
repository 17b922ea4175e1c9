"""Agency folders: `agencies/<AGENCY>/exceptions.csv|xlsx`, each agency's own rows only.

An agency's file names the child by its own record ids (the LA child id only for the LA's own
services), and never shows another agency's record id for the same child.
"""

from __future__ import annotations

import re

import duckdb

from caseflags.outputs.lifecycle import CSV_COLUMNS
from caseflags.resources import sql_text

# Agencies whose own records are keyed by the LA child id (pers_person_id); every other agency
# gets its own record ids for the child instead, never the social care id.
LA_CHILD_ID_AGENCIES = ("SOCIAL_CARE", "EDUCATION")


def agency_columns(agency: str) -> tuple[str, ...]:
    """An agency's own file: no owner column (it is all theirs); the LA child id only for the
    LA's own services, every other agency gets its own record ids for the child."""
    id_column = "person_id" if agency in LA_CHILD_ID_AGENCIES else "agency_record_ids"
    return tuple(
        id_column if c == "person_id" else c for c in CSV_COLUMNS if c != "agency"
    )


def agency_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[dict]]:
    """Each agency's listed rows, with its own record ids for the child, and any record id of
    another agency for the same child masked out of detail and locator."""
    cursor = con.execute(
        sql_text("outputs/agency_rows.sql"),
        {"run_id": run_id, "la_child_id_agencies": list(LA_CHILD_ID_AGENCIES)},
    )
    columns = [c[0] for c in cursor.description]
    by_agency: dict[str, list[dict]] = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        row["detail"] = row.pop("masked_detail")
        row["locator"] = row.pop("masked_locator")
        row["entity_id"] = row.pop("masked_entity_id")
        if not row.pop("uses_la_child_id"):
            row["person_id"] = None
        by_agency.setdefault(row["agency"], []).append(row)
    return by_agency


_AGENCY_FOLDER_PATTERN = re.compile(r"[^A-Za-z0-9_-]")


def agency_folder_name(agency: str) -> str:
    """A safe folder name for an agency code (codes come from data: no path separators)."""
    name = _AGENCY_FOLDER_PATTERN.sub("_", agency).strip("_.")
    return name or "UNKNOWN_AGENCY"

