"""The web's read-only copy of the store, published by the nightly at its end.

The web process never opens the DuckDB store itself while it serves pages: a reader would make
the nightly's write open fail, and the nightly's writes would make the reader's open fail. The
nightly, after its last write, copies the store into `<store>.snapshot.duckdb` (its schema with
`COPY FROM DATABASE … (SCHEMA)`, then each table's rows: a consistent copy made by the one writing
process), adds the tables the
pages read (`sql/web/snapshot_tables.sql`), and renames it into place. The web opens that file
read-only and reopens it when a newer one replaces it; a reader still holding the old file keeps
it until it is done (a rename never disturbs an open file on Linux).

Publishing is part of completing a night (caseflags.runbook.finish_run): the run is COMPLETED only
once its snapshot is in place, and the snapshot already shows it completed (`completing_run`). A
rerun publishes again whenever the snapshot is older than the last completed run
(`snapshot_is_current`), and a run starts by removing temporary copies a killed publish left
behind (`remove_orphaned_temp_files`): each is a whole copy of the store.

Whether the nightly is running right now is read from `/proc/locks` (the store's run lock file
is held), without taking the lock: testing it by taking it would make a starting nightly fail.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from caseflags.faults import fault_point
from caseflags.outputs.organisations import AGENCY_ROWS_SQL, LA_CHILD_ID_AGENCIES, run_sql_file, statements
from caseflags.private_files import FILE_MODE, owner_only
from caseflags.resources import SQL_DIR, sql_text
from caseflags.store.locking import StoreLocked, store_lock
from caseflags.workspace.carry import store_path

SNAPSHOT_TABLES_SQL = SQL_DIR / "web" / "snapshot_tables.sql"
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
    return sorted(p for p in final.parent.glob(f".{final.name}.*.tmp*")
                  if p.name.endswith((".tmp", ".tmp.wal")) and p.is_file() and not p.is_symlink())


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
        reader.execute(f"ATTACH {_sql_literal(str(final))} AS {READER_ALIAS} (READ_ONLY)").fetchall()
        reader.execute(f"USE {READER_ALIAS}").fetchall()
        theirs = reader.execute(key_sql, {"run_id": run_id}).fetchall()[0][0]
    except duckdb.Error:
        return False
    finally:
        reader.close()
    return mine == theirs


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}).fetchall()[0][0])


def publish_snapshot(con: duckdb.DuckDBPyConnection, read_only: bool = False,
                     completing_run: tuple[str, datetime] | None = None) -> Path | None:
    """Copy the store into its web snapshot (0600), atomically replacing the previous one.

    `read_only`: the connection cannot write the store (the web's own first publish, when the
    nightly has not published one yet); derived tables it lacks are then made as TEMP tables.
    `completing_run`: (run id, finished at) of the night being completed: the copy shows it
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
        _publish_to(con, read_only, completing_run, temp)
        os.chmod(temp, FILE_MODE)
        fault_point("mid:snapshot")
        os.replace(temp, final)
    except BaseException:
        for leftover in (temp, Path(f"{temp}.wal")):
            leftover.unlink(missing_ok=True)
        raise
    return final


def _publish_to(con: duckdb.DuckDBPyConnection, read_only: bool, completing_run: tuple[str, datetime] | None,
                temp: Path) -> None:
    for leftover in (temp, Path(f"{temp}.wal")):
        leftover.unlink(missing_ok=True)
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute("SET enable_progress_bar = false").fetchall()  # no bar in the nightly's output
    with owner_only():
        derived_in_temp = False
        if not _has_table(con, "exception_agency_rows"):
            _derive_agency_rows(con, temporary=read_only)
            derived_in_temp = read_only
        con.execute(f"ATTACH {_sql_literal(str(temp))} AS {SNAPSHOT_ALIAS} (READ_WRITE)")
        try:
            _copy_store(con, database)
            if derived_in_temp:  # a TEMP table is not copied with the database
                con.execute(f"CREATE OR REPLACE TABLE {SNAPSHOT_ALIAS}.exception_agency_rows AS SELECT * FROM temp.exception_agency_rows")
            published_at = datetime.now(timezone.utc).replace(tzinfo=None)
            for statement in [*statements(PRIORITY_OWNER_SQL), *statements(SNAPSHOT_TABLES_SQL)]:
                con.execute(statement, {"published_at": published_at} if "$published_at" in statement else {}).fetchall()
            if completing_run is not None:
                con.execute(f"UPDATE {SNAPSHOT_ALIAS}.runs SET status = 'COMPLETED', finished_at = $finished_at "
                            "WHERE run_id = $run_id",
                            {"run_id": completing_run[0], "finished_at": completing_run[1]}).fetchall()
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
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = $database AND schema_name = 'main' "
        "AND NOT temporary ORDER BY table_name",
        {"database": database},
    ).fetchall()
    for (table,) in tables:  # names from the catalogue, not from data
        order = f" ORDER BY {SORTED_TABLES[table]}" if table in SORTED_TABLES else ""
        con.execute(f"INSERT INTO {SNAPSHOT_ALIAS}.{_quoted(table)} SELECT * FROM {_quoted(database)}.{_quoted(table)}{order}").fetchall()


def _derive_agency_rows(con: duckdb.DuckDBPyConnection, temporary: bool) -> None:
    found = con.execute("SELECT run_id, as_at FROM lifecycle_runs ORDER BY seq DESC LIMIT 1").fetchall() if _has_table(
        con, "lifecycle_runs") else []
    latest = found[0] if found else None
    if latest is None:
        raise SnapshotUnavailable("the store has no run yet: run the nightly first")
    parameters = {"run_id": latest[0], "as_at": latest[1], "la_child_id_agencies": list(LA_CHILD_ID_AGENCIES)}
    if not temporary:
        run_sql_file(con, AGENCY_ROWS_SQL, parameters)
        return
    create, *rest = statements(AGENCY_ROWS_SQL)
    con.execute(create.replace("CREATE TABLE IF NOT EXISTS exception_agency_rows", "CREATE TEMP TABLE exception_agency_rows", 1))
    for statement in rest:
        statement = statement.replace("INTO exception_agency_rows", "INTO temp.exception_agency_rows", 1).replace(
            "FROM exception_agency_rows", "FROM temp.exception_agency_rows", 1)
        con.execute(statement, {k: v for k, v in parameters.items() if f"${k}" in statement}).fetchall()


PROFESSIONAL_EXISTS_SQL = SQL_DIR / "web" / "professional_exists.sql"


def find_professional(db_path: str | os.PathLike, professional: str) -> tuple[bool, str | None] | None:
    """Is `professional` one of the store's workers: (found, name), or None when neither the
    snapshot nor the store can be read now (no store yet, or the nightly holds it). Reads the
    snapshot when there is one (never blocks the nightly), else the store read-only."""
    for path in (snapshot_path(db_path), Path(db_path)):
        if not path.is_file():
            continue
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error:
            continue
        try:
            found = con.execute(PROFESSIONAL_EXISTS_SQL.read_text(), {"professional": professional}).fetchall()
        except duckdb.Error:
            continue
        finally:
            con.close()
        return (bool(found), found[0][0] if found else None)
    return None


class SnapshotUnavailable(Exception):
    """No snapshot to read yet; the message says why, for the page."""


def nightly_running(db_path: str | os.PathLike) -> bool:
    """True while a process holds the store's run lock (read from /proc/locks, lock untouched)."""
    lock = Path(f"{db_path}.lock")
    try:
        stat = lock.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    # /proc/locks names the file as MAJOR:MINOR:INODE (device numbers in hex)
    wanted = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] in ("FLOCK", "POSIX", "OFDLCK") and fields[5] == wanted:
            return True
    return False


@dataclass
class _Open:
    con: duckdb.DuckDBPyConnection
    identity: tuple[int, int, int]


class SnapshotReader:
    """Read-only connections to the newest snapshot; one cursor per request (thread-safe)."""

    def __init__(self, db_path: str | os.PathLike):
        self.db_path = Path(db_path)
        self.path = snapshot_path(db_path)
        self._open: _Open | None = None
        self._lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise SnapshotUnavailable("no snapshot yet: it is published at the end of each nightly run") from None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._open is None or self._open.identity != identity:
                # A fresh in-memory instance attaching the file: duckdb.connect(path) would hand
                # back its cached instance of the replaced file while any cursor of it lives.
                con = duckdb.connect(":memory:")
                con.execute(f"ATTACH {_sql_literal(str(self.path))} AS {READER_ALIAS} (READ_ONLY)").fetchall()
                self._open = _Open(con, identity)
            cursor = self._open.con.cursor()
        cursor.execute(f"USE {READER_ALIAS}").fetchall()
        return cursor

    def ensure_published(self) -> str | None:
        """At start-up, once: publish a snapshot from the store when there is none yet (a store
        made before the workspace existed). Done under the store's run lock, as a run would, so it
        never meets a nightly inside DuckDB; a nightly starting in those few seconds is refused
        like a second run ("store is locked"). Returns why no snapshot was made, or None."""
        if self.path.exists():
            return None
        if not self.db_path.exists():
            return f"store not found: {self.db_path}"
        try:
            with store_lock(self.db_path):
                con = duckdb.connect(str(self.db_path), read_only=True)
                try:
                    publish_snapshot(con, read_only=True)
                finally:
                    con.close()
        except StoreLocked:
            return "the nightly is running; its snapshot is published when it ends"
        except SnapshotUnavailable as exc:
            return str(exc)
        except duckdb.Error as exc:
            return f"the store cannot be read now ({type(exc).__name__})"
        return None
