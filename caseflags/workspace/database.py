"""The workspace database: users, reviews, assignments and link decisions made in the browser.

DuckDB allows one writing process per file and refuses a read-only open while another process
writes, so nothing the browser saves goes into the DuckDB store directly. It goes into a small
SQLite database beside the store (`<store>.web.sqlite`, WAL mode, 0600): the web process and the
nightly can both open it at any time, SQLite serialises writers with a short busy wait, and a
reader never blocks a writer. The nightly carries new reviews and link decisions into the store
(`caseflags.workspace.carry`), so a review saved while the nightly runs is kept here and carried the
next night; it is never lost and the nightly never waits for the web.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from caseflags.private_files import FILE_MODE
from caseflags.resources import SQL_DIR

SCHEMA_SQL = SQL_DIR / "web" / "workspace_schema.sql"
BUSY_TIMEOUT_SECONDS = 10.0


def workspace_path(db_path: str | os.PathLike) -> Path:
    """`caseflags.duckdb` -> `caseflags.web.sqlite`, beside the store."""
    return Path(db_path).with_suffix(".web.sqlite")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def timestamp(moment: datetime | None = None) -> str:
    return (moment or utc_now()).isoformat(timespec="microseconds")


def _private(path: Path) -> None:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            os.chmod(candidate, FILE_MODE)


def connect_workspace(path: str | os.PathLike) -> sqlite3.Connection:
    """Open (creating 0600 if needed) the workspace database in WAL mode, schema in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o077)
    try:
        con = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")  # a saved review survives a power cut
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(SCHEMA_SQL.read_text())
        _add_missing_columns(con)
    finally:
        os.umask(old)
    _private(path)
    con.row_factory = sqlite3.Row
    return con


# Columns added to a table after workspaces existed: (table, column, declaration).
ADDED_COLUMNS = (("users", "professional", "TEXT"),)


def _add_missing_columns(con: sqlite3.Connection) -> None:
    for table, column, declaration in ADDED_COLUMNS:  # constants, never data
        present = {row[1] for row in con.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: take the write lock at the start, so two writers never deadlock."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def session_secret(con: sqlite3.Connection) -> str:
    """The key that signs session cookies: made once per workspace, kept in it (0600)."""
    with transaction(con):
        row = con.execute("SELECT value FROM settings WHERE key = 'session_secret'").fetchone()
        if row:
            return row[0]
        value = secrets.token_urlsafe(48)
        con.execute("INSERT INTO settings VALUES ('session_secret', ?)", (value,))
        return value


class Workspace:
    """One SQLite connection per thread (the web serves requests from a thread pool)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        connect_workspace(self.path).close()  # create it and its schema once, 0600
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=True
            )
            con.execute("PRAGMA synchronous = FULL")
            con.row_factory = sqlite3.Row
            self._local.con = con
        return con
