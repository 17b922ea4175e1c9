"""The outputs stage: exception lifecycle, then every file of `<out>/<as-at>/` except run.json
(written last by the runbook, so a report folder with run.json is a finished one)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from caseflags.checking.good_practice import good_practice
from caseflags.outputs.files import write_csv_rows
from caseflags.outputs.lifecycle import update_lifecycle
from caseflags.outputs.organisations import record_agency_rows, write_organisation_outputs
from caseflags.outputs.run_outputs import write_run_outputs
from caseflags.outputs.triage import record_triage
from caseflags.private_files import private_dir


def write_outputs(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    out_dir: Path,
    delivery: dict | None = None,
    refused_files: list[dict] | None = None,
    priority: dict | None = None,
) -> Path:
    """`delivery`: the folder loaded and the digest of its files, shown in the report;
    `refused_files`: the delivered files refused whole (file, reason), listed in the report;
    `priority`: configuration [priority] (the defaults when None). What officers saved in the web
    workspace is in the store already (the runbook's carry step)."""
    run_dir = private_dir(private_dir(out_dir) / as_at.isoformat())
    update_lifecycle(con, run_id, as_at)
    record_agency_rows(con, run_id, as_at)  # each row's school or practice, which owns it
    record_triage(con, run_id, as_at, priority)  # priority and owners, read by every file below
    practice = good_practice(con, as_at)
    write_run_outputs(
        con, run_id, as_at, run_dir, good_practice_rows=practice, delivery=delivery, refused_files=refused_files
    )
    write_organisation_outputs(con, run_id, as_at, run_dir)
    write_quarantine_csv(con, run_id, run_dir)
    write_warnings_csv(con, run_id, run_dir)
    return run_dir


def write_quarantine_csv(con: duckdb.DuckDBPyConnection, run_id: str, run_dir: Path) -> Path:
    path = run_dir / "quarantine.csv"
    rows = con.execute(
        """SELECT file, line, column_name AS column, reason, raw_line, raw_length
           FROM quarantine WHERE run_id = ? ORDER BY file, line, column_name""",
        [run_id],
    ).fetchall()
    # Raw lines are extract text: written through the shared writer, every cell neutralised.
    # raw_line is a bounded prefix ([ingest] raw_line_prefix); raw_length its full length.
    return write_csv_rows(path, ["file", "line", "column", "reason", "raw_line", "raw_length"], rows)


def write_warnings_csv(con: duckdb.DuckDBPyConnection, run_id: str, run_dir: Path) -> Path:
    """Data-quality warnings (a value nothing depends on, kept raw) in quarantine.csv's columns,
    the raw value in place of the raw line."""
    path = run_dir / "warnings.csv"
    rows = con.execute(
        """SELECT file, line, column_name AS column, reason, raw_value
           FROM data_quality_warnings WHERE run_id = ? ORDER BY file, line NULLS FIRST, column_name, reason""",
        [run_id],
    ).fetchall()
    # Raw values are delivered text: the shared writer neutralises every cell, as for quarantine.
    return write_csv_rows(path, ["file", "line", "column", "reason", "raw_value"], rows)
