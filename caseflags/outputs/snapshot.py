"""The web's read-only copy of the store, published by the nightly at its end.

The web process never opens the DuckDB store itself while it serves pages: a reader would make
the nightly's write open fail, and the nightly's writes would make the reader's open fail. The
nightly, after its last write, copies the store into `<store>.snapshot.duckdb` (its schema with
`COPY FROM DATABASE … (SCHEMA)`, then each table's rows: a consistent copy made by the one writing
process), adds the tables the pages read (`sql/web/priority_owner_tables.sql`,
`sql/web/snapshot_tables.sql`, run inside the copy), and renames it into place. The web
(caseflags.web.snapshot) opens that file read-only and reopens it when a newer one replaces it; a
reader still holding the old file keeps it until it is done (a rename never disturbs an open file
on Linux).

Publishing is part of completing a night (caseflags.runbook.finish_run): the run is COMPLETED only
once its snapshot is in place, and the snapshot already shows it completed (`completing_run`). A
rerun publishes again whenever the snapshot is older than the last completed run
(`snapshot_is_current`), and a run starts by removing temporary copies a killed publish left
behind (`remove_orphaned_temp_files`): each is a whole copy of the store.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from caseflags.faults import fault_point
from caseflags.outputs.organisations import AGENCY_ROWS_SQL, LA_CHILD_ID_AGENCIES, run_sql_file, statements
from caseflags.outputs.snapshot_reuse import (
    NOT_PUBLISHED,
    record_all_digests,
    start_from_previous,
    update_changed_tables,
)
from caseflags.private_files import FILE_MODE, owner_only
from caseflags.resources import SQL_DIR, sql_text
from caseflags.store.database import store_path

SNAPSHOT_TABLES_SQL = SQL_DIR / "web" / "snapshot_tables.sql"
COMPLETING_RUN_SQL = SQL_DIR / "outputs" / "snapshot_completing_run.sql"
# Issue 25's priority and owner data, read by name in this one file (run first: web_exceptions joins it).
PRIORITY_OWNER_SQL = SQL_DIR / "web" / "priority_owner_tables.sql"
SNAPSHOT_ALIAS = "web_snapshot"
READER_ALIAS = "snapshot"


def snapshot_path(db_path: str | os.PathLike) -> Path:
    """`caseflags.duckdb` -> `caseflags.snapshot.duckdb`, beside the store."""
    return Path(db_path).with_suffix(".snapshot.duckdb")


def _temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def orphaned_temp_files(db_path: str | os.PathLike) -> list[Path]:
    """Temporary snapshot copies (and their WAL files) beside the store, left by a killed publish."""
    final = snapshot_path(db_path)
    if not final.parent.is_dir():
        return []
    return sorted(
        p
        for p in final.parent.glob(f".{final.name}.*.tmp*")
        if p.name.endswith((".tmp", ".tmp.wal")) and p.is_file() and not p.is_symlink()
    )


def remove_orphaned_temp_files(db_path: str | os.PathLike) -> list[Path]:
    """Remove them; call under the store's run lock (no publish can be under way). Returns them."""
    removed = orphaned_temp_files(db_path)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def snapshot_is_current(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """True when the web snapshot carries every completed run of the store (and `run_id`) with the
    results it has now (sql/web/snapshot_key.sql); False when it is missing, unreadable or older."""
    db_path = store_path(con)
    if db_path is None:
        return True
    final = snapshot_path(db_path)
    if not final.is_file():
        return False
    key_sql = sql_text("web/snapshot_key.sql")
    mine = con.execute(key_sql, {"run_id": run_id}).fetchall()[0][0]
    reader = duckdb.connect(":memory:")
    try:
        reader.execute(f"ATTACH {sql_literal(str(final))} AS {READER_ALIAS} (READ_ONLY)").fetchall()
        reader.execute(f"USE {READER_ALIAS}").fetchall()
        theirs = reader.execute(key_sql, {"run_id": run_id}).fetchall()[0][0]
    except duckdb.Error:
        return False
    finally:
        reader.close()
    return mine == theirs


def sql_literal(text: str) -> str:
    """A path as an SQL string literal (ATTACH takes no bound parameter)."""
    return "'" + text.replace("'", "''") + "'"


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}).fetchall()[0][0]
    )


def publish_snapshot(con: duckdb.DuckDBPyConnection, completing_run: tuple[str, datetime] | None = None) -> Path | None:
    """Copy the store into its web snapshot (0600), atomically replacing the previous one.

    Nothing is written to the store: `con` may be read-only (the web's own first publish, when the
    nightly has not published one yet). `completing_run`: (run id, finished at) of the night being completed: the copy shows it
    COMPLETED, as the store will once the snapshot is in place. On any failure (disk full, a
    kill) the previous snapshot stays and no temporary copy is left (a kill's is removed by the
    next run). Returns the snapshot path, or None for a store in memory.
    """
    db_path = store_path(con)
    if db_path is None:
        return None
    final = snapshot_path(db_path)
    temp = _temp_path(final)
    try:
        _publish_to(con, completing_run, temp, final)
        os.chmod(temp, FILE_MODE)
        fault_point("mid:snapshot")
        os.replace(temp, final)
    except BaseException:
        for leftover in (temp, Path(f"{temp}.wal")):
            leftover.unlink(missing_ok=True)
        raise
    return final


def _publish_to(
    con: duckdb.DuckDBPyConnection, completing_run: tuple[str, datetime] | None, temp: Path, final: Path | None = None
) -> None:
    for leftover in (temp, Path(f"{temp}.wal")):
        leftover.unlink(missing_ok=True)
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    # A store made before the organisation rows existed (or never run): they are derived in the copy.
    agency_rows = None if _has_table(con, "exception_agency_rows") else _latest_run_parameters(con)
    # Issue 28: update the previous snapshot (a file copy), rewriting only the tables whose content
    # changed; a store whose organisation rows are derived in the copy is copied whole.
    updating = agency_rows is None and final is not None and start_from_previous(final, temp)
    con.execute("SET enable_progress_bar = false").fetchall()  # no bar in the nightly's output
    with owner_only():
        con.execute(f"ATTACH {sql_literal(str(temp))} AS {SNAPSHOT_ALIAS} (READ_WRITE)")
        try:
            if (
                not updating
                or update_changed_tables(con, database, SNAPSHOT_ALIAS, _store_tables(con, database), SORTED_TABLES)
                is None
            ):
                if updating:  # another schema: the whole store again, into an empty file
                    con.execute(f"DETACH {SNAPSHOT_ALIAS}")
                    temp.unlink()
                    con.execute(f"ATTACH {sql_literal(str(temp))} AS {SNAPSHOT_ALIAS} (READ_WRITE)")
                _copy_store(con, database)
                record_all_digests(con, database, SNAPSHOT_ALIAS, _store_tables(con, database))
            # The snapshot's own tables are made from the copy, inside it: a store opened read-only
            # (the web's first publish) is never written.
            con.execute(f"USE {SNAPSHOT_ALIAS}").fetchall()
            try:
                if agency_rows is not None:
                    run_sql_file(con, AGENCY_ROWS_SQL, agency_rows)
                published_at = datetime.now(UTC).replace(tzinfo=None)
                for statement in [*statements(PRIORITY_OWNER_SQL), *statements(SNAPSHOT_TABLES_SQL)]:
                    con.execute(
                        statement, {"published_at": published_at} if "$published_at" in statement else {}
                    ).fetchall()
                if completing_run is not None:
                    run_sql_file(
                        con, COMPLETING_RUN_SQL, {"run_id": completing_run[0], "finished_at": completing_run[1]}
                    )
            finally:
                con.execute(f"USE {_quoted(database)}").fetchall()
        finally:
            con.execute(f"DETACH {SNAPSHOT_ALIAS}")
            con.execute("RESET enable_progress_bar").fetchall()


# Stored in the child's order, so a Child page reads the few row groups of that child (zone maps)
# instead of scanning every session of the authority.
SORTED_TABLES = {"attendance_sessions": "upn, session_date"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_store(con: duckdb.DuckDBPyConnection, database: str) -> None:
    """The store's schema (tables, views, macros, sequences), then every table's rows once; the
    largest chronology source in the child's order. (COPY FROM DATABASE then a sorted copy wrote
    the 11.9 M sessions of `large` twice: 8.5 s of its night; bench/RESULTS.md.)"""
    con.execute(f"COPY FROM DATABASE {_quoted(database)} TO {SNAPSHOT_ALIAS} (SCHEMA)").fetchall()
    for table in _store_tables(con, database):  # names from the catalogue, not from data
        if table in NOT_PUBLISHED:  # the nightly's own caches (snapshot_reuse): published empty
            continue
        order = f" ORDER BY {SORTED_TABLES[table]}" if table in SORTED_TABLES else ""
        con.execute(
            f"INSERT INTO {SNAPSHOT_ALIAS}.{_quoted(table)} SELECT * FROM {_quoted(database)}.{_quoted(table)}{order}"
        ).fetchall()


def _store_tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $database AND schema_name = 'main' "
            "AND NOT temporary ORDER BY table_name",
            {"database": database},
        ).fetchall()
    ]


def _latest_run_parameters(con: duckdb.DuckDBPyConnection) -> dict:
    """The parameters of sql/web/exception_agency_rows.sql for the store's latest run."""
    found = (
        con.execute("SELECT run_id, as_at FROM lifecycle_runs ORDER BY seq DESC LIMIT 1").fetchall()
        if _has_table(con, "lifecycle_runs")
        else []
    )
    if not found:
        raise SnapshotUnavailable("the store has no run yet: run the nightly first")
    run_id, as_at = found[0]
    return {"run_id": run_id, "as_at": as_at, "la_child_id_agencies": list(LA_CHILD_ID_AGENCIES)}


class SnapshotUnavailable(Exception):
    """No snapshot to read yet; the message says why, for the page."""
