"""What the nightly takes from the workspace database into the store, and what it leaves for the web.

- `carry_web_reviews(con)`: reviews saved in the browser become `annotations` rows in the store,
  exactly like a row changed in an imported workbook (`source_file` = `caseflags web`, expiry of
  FALSE_POSITIVE / ACCEPTED_RISK as saved), so they follow the exception to later nights, into
  `exceptions.csv` / `.xlsx`, and the Excel round trip keeps working. `web_reviews_carried`
  remembers which were carried (id, who, when), so each is carried once.
- `carry_web_assignments(con)`: assignments saved in the browser become `web_assignments_carried`
  rows, so the nightly's workbook names who each exception is assigned to.
- `carry_link_decisions(con)`: officers' confirm / reject decisions become `link_decisions`
  rows before linkage, so they apply on this very run.

Both read the workspace with SQLite in WAL mode, which never blocks the web: a review saved
while the nightly runs is simply carried the next night, and shown by the web from the workspace
meanwhile. A missing workspace (no web in use) carries nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import duckdb
import pyarrow as pa

from caseflags.store.database import ensure_store, store_path
from caseflags.workspace.database import connect_workspace, utc_now, workspace_path

WEB_SOURCE = "caseflags web"


def open_workspace(con: duckdb.DuckDBPyConnection) -> sqlite3.Connection | None:
    """The workspace beside the connection's store, or None (no web in use, or a store in memory)."""
    path = store_path(con)
    if path is None or not workspace_path(path).exists():
        return None
    return connect_workspace(workspace_path(path))


def _rows_not_carried(con: duckdb.DuckDBPyConnection, last_carried_sql: str, query: str) -> list[tuple]:
    """The workspace rows after the last one carried (`query` takes that id), [] without a workspace."""
    workspace = open_workspace(con)
    if workspace is None:
        return []
    ensure_store(con)  # the carried-id tables
    last = con.execute(last_carried_sql).fetchall()[0][0]
    try:
        return workspace.execute(query, (last,)).fetchall()
    finally:
        workspace.close()


def carry_web_reviews(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> int:
    """Append the workspace's not-yet-carried reviews to `annotations`; returns how many."""
    rows = _rows_not_carried(
        con,
        "SELECT coalesce(max(web_review_id), 0) FROM web_reviews_carried",
        "SELECT review_id, exception_id, review_status, review_note, reviewer, created_at, expires_on "
        "FROM reviews WHERE review_id > ? ORDER BY review_id",
    )
    if not rows:
        return 0
    ensure_store(con)
    table = pa.table(
        {
            "web_review_id": [r[0] for r in rows],
            "exception_id": [r[1] for r in rows],
            "review_status": [r[2] for r in rows],
            "review_note": [r[3] for r in rows],
            "reviewer": [r[4] for r in rows],
            "annotated_at": [datetime.fromisoformat(r[5]) for r in rows],
            "expires_on": [date.fromisoformat(r[6]) if r[6] else None for r in rows],
        }
    )
    con.register("_web_reviews", table)
    con.execute("BEGIN TRANSACTION")
    try:
        seq = con.execute("SELECT coalesce(max(import_seq), 0) FROM annotations").fetchall()[0][0]
        con.execute(
            """
            INSERT INTO annotations (exception_id, review_status, review_note, annotated_at, source_file, expires_on, import_seq)
            SELECT exception_id, review_status, review_note, annotated_at, $source, expires_on,
                   $seq + row_number() OVER (ORDER BY web_review_id)
            FROM _web_reviews
            """,
            {"source": WEB_SOURCE, "seq": seq},
        ).fetchall()
        con.execute(
            """
            INSERT INTO web_reviews_carried
            SELECT web_review_id, exception_id, reviewer, annotated_at, $now FROM _web_reviews
            """,
            {"now": now or utc_now()},
        ).fetchall()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_web_reviews")
    return len(rows)


def carry_web_assignments(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> int:
    """Copy the workspace's not-yet-carried assignments into `web_assignments_carried`."""
    rows = _rows_not_carried(
        con,
        "SELECT coalesce(max(web_assignment_id), 0) FROM web_assignments_carried",
        "SELECT assignment_id, exception_id, assignee, assigned_by, assigned_at "
        "FROM assignments WHERE assignment_id > ? ORDER BY assignment_id",
    )
    if not rows:
        return 0
    table = pa.table(
        {
            "web_assignment_id": [r[0] for r in rows],
            "exception_id": [r[1] for r in rows],
            "assignee": [r[2] for r in rows],
            "assigned_by": [r[3] for r in rows],
            "assigned_at": [datetime.fromisoformat(r[4]) for r in rows],
        }
    )
    con.register("_web_assignments", table)
    try:
        con.execute(
            "INSERT INTO web_assignments_carried SELECT web_assignment_id, exception_id, assignee, assigned_by, "
            "assigned_at, $now FROM _web_assignments",
            {"now": now or utc_now()},
        ).fetchall()
    finally:
        con.unregister("_web_assignments")
    return len(rows)


def carry_link_decisions(con: duckdb.DuckDBPyConnection) -> int:
    """Record the workspace's new confirm / reject decisions in the store's `link_decisions`."""
    rows = _rows_not_carried(
        con,
        "SELECT coalesce(max(web_decision_id), 0) FROM web_link_decisions_carried",
        "SELECT decision_id, agency, agency_record_id, person_id, decision, decided_at, decided_by, note "
        "FROM link_decisions WHERE decision_id > ? ORDER BY decision_id",
    )
    if not rows:
        return 0
    ensure_store(con)
    con.execute("BEGIN TRANSACTION")
    try:
        for row in rows:
            con.execute(
                """
                INSERT INTO link_decisions
                SELECT coalesce(max(decision_seq), 0) + 1, $agency, $record, $person, $decision, $at, $by, $note
                FROM link_decisions
                """,
                {
                    "agency": row[1],
                    "record": row[2],
                    "person": row[3],
                    "decision": row[4],
                    "at": datetime.fromisoformat(row[5]),
                    "by": row[6],
                    "note": row[7],
                },
            ).fetchall()
            con.execute("INSERT INTO web_link_decisions_carried VALUES ($id)", {"id": row[0]}).fetchall()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def workspace_marks(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The newest review, assignment and link decision saved in the workspace (0 without one):
    a run's results depend on them once carried, so they are part of its basis (outputs.reuse)."""
    tables = ("reviews", "assignments", "link_decisions")
    workspace = open_workspace(con)
    if workspace is None:
        return dict.fromkeys(tables, 0)
    try:
        return {
            table: workspace.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            for table in tables
        }
    finally:
        workspace.close()
