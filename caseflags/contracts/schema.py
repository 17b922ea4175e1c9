"""The extract contract, read back from `sql/schema.sql` through DuckDB's catalog.

schema.sql is the single source of truth: NOT NULL marks a required column, an ENUM type is a
code list, DATE / BOOLEAN / INTEGER / VARCHAR[] decide how a delivered text value is parsed.
Only identifier handling (which columns hold NHS numbers or UPNs) is declared here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import duckdb

# Columns that hold a national identifier: validated, and never used for linkage when invalid.
NHS_NUMBER_COLUMNS = {
    ("ssd_person", "pers_single_unique_id"),
    ("agency_records", "nhs_number"),
    ("gp_registrations", "nhs_number"),
}
UPN_COLUMNS = {
    ("ssd_person", "pers_upn"),
    ("agency_records", "upn"),
    ("ehcp_plans", "upn"),
    ("attendance_sessions", "upn"),
    ("attendance_summaries", "upn"),
}
# ssd_linked_identifiers holds either kind; its type column says which.
LINKED_IDENTIFIER_TYPES = {
    "nhs number": "NHS_NUMBER",
    "unique pupil number": "UPN",
    "upn": "UPN",
    "former upn": "UPN",
    "former unique pupil number": "UPN",
}

# Which agency supplies a table (for identifier exceptions); agency_records says per row.
TABLE_AGENCY = {
    "gp_registrations": "GP",
    "ehcp_plans": "EDUCATION",
    "attendance_sessions": "EDUCATION",
    "attendance_summaries": "EDUCATION",
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # text | id | nhs_number | upn | date | flag | integer | code | code_list
    required: bool
    duckdb_type: str
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _is_identifier_like(name: str) -> bool:
    return (
        name.endswith("_id")
        or name.endswith("_urn")
        or name in {"practice_code", "prof_practice_code", "link_identifier_value", "flag_value"}
    )


def _kind(table: str, column: str, data_type: str, is_enum: bool) -> str:
    if (table, column) in NHS_NUMBER_COLUMNS:
        return "nhs_number"
    if (table, column) in UPN_COLUMNS:
        return "upn"
    if is_enum:
        return "code"
    if data_type == "DATE":
        return "date"
    if data_type == "BOOLEAN":
        return "flag"
    if data_type in {"INTEGER", "BIGINT"}:
        return "integer"
    if data_type.endswith("[]"):
        return "code_list"
    return "id" if _is_identifier_like(column) else "text"


_ENUM_VALUE = re.compile(r"'((?:[^']|'')*)'")


def _enum_codes(data_type: str) -> tuple[str, ...]:
    if not data_type.startswith("ENUM("):
        return ()
    return tuple(v.replace("''", "'") for v in _ENUM_VALUE.findall(data_type))


@lru_cache(maxsize=1)
def load_contract() -> dict[str, TableSpec]:
    """Every contract table, in schema order, with its parsed column specifications."""
    from caseflags.store.database import create_contract_tables

    con = duckdb.connect(":memory:")
    try:
        create_contract_tables(con)
        rows = con.execute(
            """
            SELECT table_name, column_name, data_type, is_nullable
            FROM duckdb_columns()
            WHERE NOT internal
            ORDER BY table_oid, column_index
            """
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, list[ColumnSpec]] = {}
    for table, column, data_type, nullable in rows:
        codes = _enum_codes(data_type)
        kind = _kind(table, column, data_type, bool(codes))
        tables.setdefault(table, []).append(
            ColumnSpec(column, kind, required=not nullable, duckdb_type=data_type, codes=codes)
        )
    return {name: TableSpec(name, tuple(cols)) for name, cols in tables.items()}


def agency_code_problems(sections: Mapping[str, Any], source: str) -> list[str]:
    """The configuration's [agencies] (local name -> agency code) against the contract's codes."""
    codes = set(load_contract()["agency_records"].column("agency").codes)
    return [
        f"{source}: agencies.{local_name} maps to unknown agency code {code!r}"
        for local_name, code in sections["agencies"].items()
        if code not in codes
    ]
