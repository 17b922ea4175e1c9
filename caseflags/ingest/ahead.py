"""The delivery's largest CSV staged by the engine alongside the other tables (issue 28).

The engine types a file on one DuckDB thread (a staged row's id is its line: several threads do
not keep the delivered order), so the ingest stage ran on one core. Now the largest plain CSV of
the delivery (`attendance_sessions`: most of a night's rows) is scanned and staged on a second
connection to the store, in a thread, while the other tables are read on the first; each query
runs on its own calling thread, so a night's ingest uses two cores. When that table's turn comes
(`stage._stage_one_table`) it takes the scan and the engine's result from here, and everything
after the engine runs as for any table. What the engine does not take goes to the exact reader
there, as before; a file unchanged since the live load is not staged at all.

DuckDB's `threads` is one setting for the whole database instance, so the ingest stage holds it at
one for its duration (`one_thread_each`) and the engine leaves it alone while it is one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from caseflags.ingest.engine import EngineExtract, stage_csv_in_engine
from caseflags.ingest.scan import FileScan, IngestLimits, scan_file
from caseflags.store.publish import STAGED_PREFIX


def load_fingerprint(content_sha256: str, parser_version: str) -> str:
    """What decides whether a table is unchanged since its live load: its content and the parser."""
    return hashlib.sha256(f"{content_sha256}:{parser_version}".encode()).hexdigest()


@contextmanager
def one_thread_each(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's threads held at one for the block (each query then runs on its caller's thread),
    then given back as they were."""
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


@dataclass
class _Staged:
    scan: FileScan | None = None
    scan_error: BaseException | None = None
    engine: EngineExtract | None = None
    engine_error: BaseException | None = None


@dataclass
class StagedAhead:
    """One table's file, scanned and staged in a thread on its own connection to the store."""

    table: str
    path: Path
    _cursor: duckdb.DuckDBPyConnection
    _executor: ThreadPoolExecutor
    _future: Future = field(repr=False)
    taken: bool = False

    @classmethod
    def start(
        cls,
        con: duckdb.DuckDBPyConnection,
        table: str,
        path: Path,
        limits: IngestLimits,
        agencies: dict[str, str] | None,
        parser_version: str,
        live_fingerprint: str | None,
    ) -> StagedAhead:
        cursor = con.cursor()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caseflags-ingest")
        future = executor.submit(
            _scan_and_stage, cursor, table, path, limits, agencies, parser_version, live_fingerprint
        )
        return cls(table, path, cursor, executor, future)

    def _result(self) -> _Staged:
        self.taken = True
        staged = self._future.result()  # _scan_and_stage keeps its errors: it never raises
        self._executor.shutdown(wait=True)
        return staged

    def scan(self) -> FileScan:
        """The file's scan (what scanning it raised, raised here: the file's turn refuses it)."""
        staged = self._result()
        if staged.scan_error is not None:
            raise staged.scan_error
        return staged.scan

    def engine(self) -> EngineExtract | None:
        """The engine's staged extract, None when it did not take the file (or did not try: the
        file was unchanged). What the engine raised is raised here, at the file's turn."""
        staged = self._result()
        if staged.engine_error is not None:
            raise staged.engine_error
        return staged.engine

    def abandon(self, con: duckdb.DuckDBPyConnection) -> None:
        """The night stopped before this table's turn: stop the engine and drop what it staged."""
        if not self._future.done():
            self._cursor.interrupt()
        self._executor.shutdown(wait=True)
        try:
            con.execute(f'DROP TABLE IF EXISTS "{STAGED_PREFIX}{self.table}"')
        except duckdb.Error:
            pass  # the connection itself failed: the runbook drops staged tables when it can


def _scan_and_stage(cursor, table, path, limits, agencies, parser_version, live_fingerprint) -> _Staged:
    staged = _Staged()
    try:
        staged.scan = scan_file(path)
    except BaseException as exc:  # noqa: BLE001 - handed to the file's turn, which refuses the file
        staged.scan_error = exc
        return staged
    if load_fingerprint(staged.scan.sha256, parser_version) == live_fingerprint:
        return staged  # unchanged: the file's turn keeps the live rows
    try:
        staged.engine = stage_csv_in_engine(cursor, path, table, staged.scan, limits, agencies, staged.scan.sha256)
    except BaseException as exc:  # noqa: BLE001 - raised again at the file's turn
        staged.engine_error = exc
    return staged


def largest_plain_csv(files: dict[str, Path], eligible) -> tuple[str, Path] | None:
    """The table whose CSV is the largest of `files` among those `eligible(table)` says may be
    staged ahead (None when there is none)."""
    sized = []
    for table, path in files.items():
        if isinstance(path, Path) and path.suffix.lower() == ".csv" and eligible(table):
            try:
                sized.append((path.stat().st_size, table, path))
            except OSError:
                continue  # its turn names the problem
    if not sized:
        return None
    _, table, path = max(sized)
    return table, path
