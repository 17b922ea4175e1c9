"""The files of one run: exceptions.csv, exceptions.xlsx, agencies/<AGENCY>/... and report.html.

`write_run_outputs` writes them into the run's folder (`<out>/<as-at>/`), readable by the owner
only, after `update_lifecycle` (caseflags.outputs.lifecycle).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from caseflags.outputs.agencies import agency_columns, agency_folder_name, agency_rows
from caseflags.outputs.files import write_csv, write_text
from caseflags.outputs.lifecycle import CSV_COLUMNS
from caseflags.outputs.report import render_report
from caseflags.outputs.workbook import write_workbook
from caseflags.private_files import owner_only, private_dir
from caseflags.resources import sql_text
from caseflags.store.database import ensure_store


def listed_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    cursor = con.execute(
        sql_text("outputs/listed_rows.sql"),
        {"run_id": run_id},
    )
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date, agency: str | None = None) -> dict:
    """Counts by check and by agency for the run; with `agency`, that agency's rows only."""
    scope = {"run_id": run_id, "agency": agency}
    previous_run_id = con.execute(
        "SELECT previous_run_id FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchone()[0]
    cursor = con.execute(
        sql_text("outputs/run_summary_by_check.sql"),
        scope,
    )
    columns = [c[0] for c in cursor.description]
    by_check = [dict(zip(columns, row)) for row in cursor.fetchall()]
    cursor = con.execute(
        sql_text("outputs/run_summary_by_agency.sql"),
        scope,
    )
    columns = [c[0] for c in cursor.description]
    by_agency = [dict(zip(columns, row)) for row in cursor.fetchall()]
    totals = {k: sum(c[k] for c in by_check) for k in ("new", "open", "resolved", "listed")}
    children_first: list[dict] = []
    if agency is None:  # the officers' workbook: the children to act on first (child_priority)
        cursor = con.execute(sql_text("outputs/children_first.sql"), {"run_id": run_id})
        names = [c[0] for c in cursor.description]
        children_first = [dict(zip(names, row)) for row in cursor.fetchall()]
    return {
        "children_first": children_first,
        "run_id": run_id,
        "as_at": as_at,
        "previous_run_id": previous_run_id,
        "counts_by_check": by_check,
        "counts_by_agency": by_agency,
        "totals": totals,
    }


@dataclass(frozen=True)
class RunOutputs:
    exceptions_csv: Path
    exceptions_xlsx: Path
    report_html: Path
    agency_files: dict[str, tuple[Path, Path]]


def write_run_outputs(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    out_dir: str | os.PathLike,
    good_practice_rows: list[dict] | None = None,
    delivery: dict | None = None,
    refused_files: list[dict] | None = None,
) -> RunOutputs:
    """Write the run's exception files and report into out_dir (the run's `<out>/<as-at>/`).

    Needs `update_lifecycle(con, run_id, as_at)` first. In `agencies/` an agency with nothing
    listed any more keeps no stale folder. Every file is 0600 and every folder 0700, written to a
    temporary name and renamed into place unless the file there already holds the same content
    (then it is left untouched: a rerun rewrites only the agency files that changed).
    """
    ensure_store(con)
    known = con.execute("SELECT count(*) FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}).fetchone()[0]
    if not known:
        raise ValueError(f"run {run_id} has no exception lifecycle yet: call update_lifecycle first")
    out = Path(out_dir)
    with owner_only():
        private_dir(out)
        rows = listed_rows(con, run_id)
        summary = run_summary(con, run_id, as_at)

        csv_path = out / "exceptions.csv"
        write_csv(csv_path, CSV_COLUMNS, rows)
        xlsx_path = out / "exceptions.xlsx"
        write_workbook(xlsx_path, rows, summary, for_agency=None)

        agencies_dir = out / "agencies"
        if agencies_dir.is_symlink() or agencies_dir.is_file():
            agencies_dir.unlink()
        private_dir(agencies_dir)
        agency_files: dict[str, tuple[Path, Path]] = {}
        by_agency = agency_rows(con, run_id)
        # An agency with nothing listed any more keeps no stale folder; the others' files are
        # rewritten only where their content changed (files.publish).
        remove_entries_except(agencies_dir, {agency_folder_name(agency) for agency in by_agency})
        for agency, rows_of_agency in by_agency.items():
            folder = private_dir(agencies_dir / agency_folder_name(agency))
            columns = agency_columns(agency)
            agency_csv = folder / "exceptions.csv"
            write_csv(agency_csv, columns, rows_of_agency)
            agency_xlsx = folder / "exceptions.xlsx"
            write_workbook(agency_xlsx, rows_of_agency, run_summary(con, run_id, as_at, agency), for_agency=agency)
            agency_files[agency] = (agency_csv, agency_xlsx)

        report_path = out / "report.html"
        write_text(
            report_path, render_report(con, run_id, as_at, summary, rows, good_practice_rows, delivery, refused_files)
        )
    return RunOutputs(csv_path, xlsx_path, report_path, agency_files)


def remove_entries_except(folder: Path, keep: set[str]) -> None:
    """Remove what `folder` holds besides the names in `keep` (links unlinked, never followed)."""
    for entry in folder.iterdir():
        if entry.name in keep:
            continue
        if entry.is_symlink() or not entry.is_dir():
            entry.unlink()
        else:
            shutil.rmtree(entry)
