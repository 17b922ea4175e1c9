"""A child's chronology: every event recorded across agencies, in date order, for the audit pack.

One SQL file per source table under `sql/audit/chronology/` (columns event_date, agency,
source_table, event_type, description, record_id); `CHRONOLOGY_SOURCES` lists them in the order
events of the same day are listed, with the tables each reads. A source whose tables are not in
the store is left out and named. `child_context` reads the pack's side panel
(`sql/audit/context/`).
"""

from __future__ import annotations

from datetime import date

import duckdb

from caseflags.audit.model import ChronologyEvent
from caseflags.resources import sql_text

# source -> the tables its query reads, in the order events of one day are listed.
_SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "ssd_cin_episodes": ("ssd_cin_episodes",),
    "ssd_cin_assessments": ("ssd_cin_assessments",),
    "ssd_assessment_factors": ("ssd_assessment_factors", "ssd_cin_assessments"),
    "ssd_cin_plans": ("ssd_cin_plans",),
    "plan_actions": ("plan_actions",),
    "ssd_cin_visits": ("ssd_cin_visits",),
    "ssd_s47_enquiry": ("ssd_s47_enquiry",),
    "ssd_initial_cp_conference": ("ssd_initial_cp_conference",),
    "meetings": ("meetings", "meeting_invitations"),
    "voice_records": ("voice_records",),
    "information_sharing": ("information_sharing",),
    "professional_differences": ("professional_differences",),
    "transition_plans": ("transition_plans",),
    "family_contacts": ("family_contacts",),
    "ssd_involvements": ("ssd_involvements", "ssd_professionals"),
    "agency_flags": ("agency_flags", "person_links"),
    "gp_registrations": ("gp_registrations", "person_identifiers"),
    "ehcp_plans": ("ehcp_plans", "person_identifiers"),
    "attendance_sessions": ("attendance_sessions", "person_identifiers"),
    "attendance_summaries": ("attendance_summaries", "person_identifiers"),
    "ssd_address": ("ssd_address",),
}

# source -> (tables it reads, its SELECT), in listing order.
CHRONOLOGY_SOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    source: (tables, sql_text(f"audit/chronology/{source}.sql")) for source, tables in _SOURCE_TABLES.items()
}

# The pack's side panel: query name -> (tables it reads, parameters it takes).
CHILD_CONTEXT_QUERIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "linked_records": (("person_links",), ("person_id",)),
    "family_members": (("family_members",), ("person_id",)),
    "allocated_social_worker": (("ssd_involvements",), ("person_id", "as_at")),
}


def main_relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = current_database()"
    ).fetchall()
    return {row[0] for row in rows}


def chronology_sql(available_tables: set[str]) -> tuple[str, list[str]]:
    """The UNION of every source whose tables are in the store, ordered; and the sources left out.

    Only the package's own SQL files are put together here; every value is a bound parameter."""
    branches, missing = [], []
    for rank, (source, (tables, sql)) in enumerate(CHRONOLOGY_SOURCES.items()):
        if not set(tables) <= available_tables:
            missing.append(source)
            continue
        branches.append(
            f"SELECT {rank} AS source_rank, * FROM (\n{sql}\n) AS source_events"
            "(event_date, agency, source_table, event_type, description, record_id)"
        )
    if not branches:
        return "", missing
    union = "\nUNION ALL\n".join(branches)
    return sql_text("audit/chronology.sql").replace("-- {sources}", union), missing


def build_chronology(con: duckdb.DuckDBPyConnection, person_id: str, as_at: date) -> list[ChronologyEvent]:
    """Every event recorded for the child across agencies up to as_at, in date order (undated
    records last). Events of one day keep the order of CHRONOLOGY_SOURCES."""
    sql, _missing = chronology_sql(main_relations(con))
    if not sql:
        return []
    rows = con.execute(sql, {"person_id": person_id, "as_at": as_at}).fetchall()
    return [ChronologyEvent(*row) for row in rows]


def child_context(con: duckdb.DuckDBPyConnection, person_id: str, as_at: date, tables: set[str]) -> dict:
    """Linked records, family members and allocated social worker of the child, and the
    chronology sources missing from the store."""
    context: dict = {"missing_sources": chronology_sql(tables)[1]}
    values = {"person_id": person_id, "as_at": as_at}
    for name, (needed, params) in CHILD_CONTEXT_QUERIES.items():
        if set(needed) <= tables:
            sql = sql_text(f"audit/context/{name}.sql")
            context[name] = con.execute(sql, {p: values[p] for p in params}).fetchall()
        else:
            context[name] = []
    return context
