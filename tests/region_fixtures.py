"""Fixture helpers for the regional checks: a regional store built row by row.

con = new_region_store()
add_person(con, "803", "C1", cin_since=date(2026, 1, 5))               # a child of 803's social care
add_person(con, "801", "EDUCATION:E1", source="EDUCATION", possible=100, missed=20)
add_link(con, "803", "C1", "801", "EDUCATION:E1")
rows = run_check(con, "CROSS_BORDER_NOT_SHARED", AS_AT)
"""

from __future__ import annotations

from datetime import date

import duckdb

from caseflags.store.database import connect, ensure_store

AS_AT = date(2026, 11, 24)


def new_region_store() -> duckdb.DuckDBPyConnection:
    con = connect()
    ensure_store(con, regional=True)
    return con


def add_person(
    con,
    la_code: str,
    local_id: str,
    *,
    source: str = "SOCIAL_CARE",
    cin_since: date | None = None,
    cin_known: bool | None = None,
    possible: int | None = None,
    missed: int | None = None,
    person_id: str | None = None,
) -> None:
    cin_open = cin_since is not None and source == "SOCIAL_CARE"
    con.execute(
        """INSERT INTO region_people (la_code, local_id, source, person_id, cin_open, cin_since, cin_known,
                                      possible_sessions, missed_sessions)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            la_code,
            local_id,
            source,
            person_id if person_id is not None else (local_id if source == "SOCIAL_CARE" else None),
            cin_open,
            cin_since if cin_open else None,
            cin_open if cin_known is None else cin_known,
            possible,
            missed,
        ],
    )


def add_link(con, home_la: str, home_id: str, other_la: str, other_id: str, method: str = "UPN") -> None:
    con.execute("INSERT INTO region_links VALUES (?, ?, ?, ?, ?, 1.0)", [home_la, home_id, other_la, other_id, method])
