"""Retention and the delivery archive: run history, report folders and archived deliveries older
than the configured ages are deleted; each night's delivery can be archived for backfill."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb

from caseflags.private_files import private_dir

# Per-run history tables pruned by retention, and the column naming the run.
RUN_HISTORY_TABLES = (
    "exceptions",
    "check_runs",
    "quarantine",
    "contract_results",
    "exception_history",
    "lifecycle_runs",
    "data_quality_warnings",
    "exception_agency_rows",
    "exception_magnitudes",
    "exception_triage",
    "child_priority",
)


def archived_deliveries(archive: Path, first: date, last: date) -> list[tuple[date, Path]]:
    """Delivery folders named YYYY-MM-DD within [first, last], oldest first (for backfill)."""
    found = []
    for folder in archive.iterdir():
        if not folder.is_dir():
            continue
        try:
            as_at = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if first <= as_at <= last:
            found.append((as_at, folder))
    return sorted(found)


def archive_delivery(extracts_dir: Path, as_at: date, archive_dir: Path) -> Path:
    """Keep a copy of the night's delivery (owner-only) so history can be rebuilt by backfill."""
    target = private_dir(archive_dir) / as_at.isoformat()
    if target.resolve() == extracts_dir.resolve():
        return target  # a backfill reading from the archive itself
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(extracts_dir, staging, ignore=shutil.ignore_patterns(".*", "~$*"))
    for path in [staging, *staging.rglob("*")]:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    as_at: date,
    out_dir: Path,
    keep_runs_days: int,
    archive_dir: Path | None = None,
    keep_deliveries_days: int | None = None,
    current_run_id: str | None = None,
    *,
    keep_last_runs: int,
) -> dict:
    """Drop run history, report folders and archived deliveries older than the given ages.

    The load record of the data still live is kept whatever its age, so incremental loads keep
    working for a table that has not changed in years. The floor: the current run and the last
    `keep_last_runs` runs before it (at least one), with their report folders, are never pruned,
    whatever the ages (even a zero or negative age that slipped past validation).
    """
    runs_before = as_at - timedelta(days=max(keep_runs_days, 1))
    protected = con.execute(
        """SELECT run_id, as_at FROM runs WHERE run_id IS DISTINCT FROM $current
           ORDER BY as_at DESC, started_at DESC, run_id DESC LIMIT $n""",
        {"current": current_run_id, "n": max(keep_last_runs, 1)},
    ).fetchall()
    runs_before = min([runs_before, as_at, *(run_as_at for _, run_as_at in protected)])
    keep = [run_id for run_id in (current_run_id, *(run_id for run_id, _ in protected)) if run_id is not None]
    old_runs = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM runs WHERE as_at < ? AND NOT list_contains(?, run_id)", [runs_before, keep]
        ).fetchall()
    ]
    pruned = {"runs": len(old_runs), "report_folders": 0, "archived_deliveries": 0}
    if old_runs:
        present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        con.execute("BEGIN TRANSACTION")
        try:
            for table in RUN_HISTORY_TABLES:
                if table in present:
                    con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, run_id)', [old_runs])
            con.execute(
                """
                DELETE FROM extract_loads
                WHERE list_contains($old, run_id)
                  AND (table_name, run_id) NOT IN (
                      SELECT table_name, run_id FROM extract_loads
                      WHERE status IN ('LOADED', 'UNCHANGED')
                      QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY delivered_as_at DESC, run_id DESC) = 1
                  )
                """,
                {"old": old_runs},
            )
            con.execute("DELETE FROM runs WHERE list_contains(?, run_id)", [old_runs])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    pruned["report_folders"] = _remove_dated_folders(out_dir, runs_before)
    if archive_dir is not None and keep_deliveries_days is not None:
        deliveries_before = as_at - timedelta(days=max(keep_deliveries_days, 1))
        pruned["archived_deliveries"] = _remove_dated_folders(archive_dir, deliveries_before)
    return pruned


def _remove_dated_folders(parent: Path, before: date) -> int:
    removed = 0
    if not parent.is_dir():
        return 0
    for folder in parent.iterdir():
        try:
            dated = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and dated < before:
            shutil.rmtree(folder)
            removed += 1
    return removed
