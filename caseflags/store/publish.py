"""Staged tables and their publication: every extract is parsed into `_staged_<table>`; the
tables that passed replace the live ones by rename in ONE transaction, together with their
quarantine, identifier issues and load records, so a crash or a failure leaves the previous good
data in place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import polars as pl

from caseflags.faults import fault_point
from caseflags.store.database import create_staged_table
from caseflags.store.ledger import ExtractOutcome, StagedDelivery

STAGED_PREFIX = "_staged_"
QUARANTINE_COLUMNS = ["table_name", "file", "line", "column_name", "reason", "raw_line", "raw_length"]


def drop_staged_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop staged tables a killed run left behind."""
    staged = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [STAGED_PREFIX]
    ).fetchall()
    for (name,) in staged:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


def stage_table(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
    staged_name = STAGED_PREFIX + table
    create_staged_table(con, table, staged_name)
    con.register("_incoming", rows)
    try:
        con.execute(f'INSERT INTO "{staged_name}" SELECT * FROM _incoming')
    finally:
        con.unregister("_incoming")


def publish(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    outcomes: dict[str, ExtractOutcome],
    staged: StagedDelivery,
    before_commit: Callable[[], None] | None = None,
) -> None:
    """Swap every LOADED table into place with its records, atomically; mark the others stale
    when the store still holds an earlier delivery's rows for them. `before_commit` runs inside
    the same transaction, on the published tables (row-level change detection)."""
    con.execute("BEGIN TRANSACTION")
    try:
        swapped = 0
        for table, outcome in outcomes.items():
            if outcome.status == "LOADED":
                con.execute(f'DROP TABLE "{table}"')
                con.execute(f'ALTER TABLE "{STAGED_PREFIX}{table}" RENAME TO "{table}"')
                swapped += 1
                if swapped == 1:
                    fault_point("mid:publish")
                con.execute("DELETE FROM identifier_issues WHERE table_name = ?", [table])
                issues = staged.identifier_issues.get(table)
                if issues is not None and issues.height:
                    con.register("_issues", issues)
                    con.execute("INSERT INTO identifier_issues BY NAME SELECT * FROM _issues")
                    con.unregister("_issues")
            else:
                con.execute(f'DROP TABLE IF EXISTS "{STAGED_PREFIX}{table}"')
                outcome.stale = outcome.status != "UNCHANGED" and _has_rows(con, table)
        con.execute("DELETE FROM quarantine WHERE run_id = ?", [run_id])
        if staged.quarantine:
            frame = pl.concat([_quarantine_columns(q) for q in staged.quarantine]).with_columns(
                pl.lit(run_id).alias("run_id")
            )
            con.register("_quarantine", frame)
            con.execute("INSERT INTO quarantine BY NAME SELECT * FROM _quarantine")
            con.unregister("_quarantine")
        record_data_quality_warnings(con, run_id, staged.warnings)
        con.execute("DELETE FROM extract_loads WHERE run_id = ?", [run_id])
        for outcome in outcomes.values():
            fresh = outcome.status in ("LOADED", "UNCHANGED")
            delivered = as_at if fresh else _last_delivered(con, outcome.table)
            con.execute(
                """INSERT INTO extract_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    outcome.table,
                    outcome.file,
                    outcome.status,
                    outcome.reason,
                    outcome.rows_read,
                    outcome.rows_loaded,
                    outcome.rows_quarantined,
                    outcome.content_sha256,
                    outcome.load_fingerprint,
                    delivered,
                ],
            )
        if before_commit is not None:
            before_commit()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _quarantine_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The store's quarantine columns; a frame without the raw line's length gets it computed."""
    if "raw_length" not in frame.columns:
        frame = frame.with_columns(pl.col("raw_line").str.len_chars().cast(pl.Int64).alias("raw_length"))
    return frame.select(QUARANTINE_COLUMNS).with_columns(pl.col("raw_length").cast(pl.Int64))


def record_data_quality_warnings(con: duckdb.DuckDBPyConnection, run_id: str, warnings: list[pl.DataFrame]) -> None:
    """This run's values loaded as missing (agency_records DOBs that did not parse), with their raw text."""
    if not warnings:
        return
    frame = pl.concat([w.select("table_name", "file", "line", "column_name", "reason", "raw_value") for w in warnings])
    con.register("_dq", frame.with_columns(pl.lit(run_id).alias("run_id")))
    try:
        con.execute(
            "DELETE FROM data_quality_warnings WHERE run_id = ? AND table_name IN (SELECT DISTINCT table_name FROM _dq)",
            [run_id],
        )
        con.execute("INSERT INTO data_quality_warnings BY NAME SELECT * FROM _dq")
    finally:
        con.unregister("_dq")


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]


def _last_delivered(con: duckdb.DuckDBPyConnection, table: str) -> date | None:
    row = con.execute(
        "SELECT max(delivered_as_at) FROM extract_loads WHERE table_name = ? AND status IN ('LOADED', 'UNCHANGED')",
        [table],
    ).fetchone()
    return row[0] if row else None
