"""What the web reads of the nightly's snapshot (published by caseflags.outputs.snapshot).

`SnapshotReader` opens the newest `<store>.snapshot.duckdb` read-only and reopens it when a newer
one replaces it. Whether the nightly is running right now is read from `/proc/locks` (the store's
run lock file is held), without taking the lock: testing it by taking it would make a starting
nightly fail.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from caseflags.outputs.snapshot import READER_ALIAS, SnapshotUnavailable, publish_snapshot, snapshot_path, sql_literal
from caseflags.resources import SQL_DIR
from caseflags.store.locking import StoreLocked, store_lock

__all__ = ["SnapshotReader", "SnapshotUnavailable", "find_professional", "nightly_running"]

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
                con.execute(f"ATTACH {sql_literal(str(self.path))} AS {READER_ALIAS} (READ_ONLY)").fetchall()
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
                    publish_snapshot(con)
                finally:
                    con.close()
        except StoreLocked:
            return "the nightly is running; its snapshot is published when it ends"
        except SnapshotUnavailable as exc:
            return str(exc)
        except duckdb.Error as exc:
            return f"the store cannot be read now ({type(exc).__name__})"
        return None
