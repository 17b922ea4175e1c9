"""Agency files by organisation: `agencies/<AGENCY>/<ORG>/` for schools and GP practices.

A school sees only its pupils' rows and a GP practice only its patients' rows, each row with the
agency's own identifiers for the child (its record ids, and the NHS number or UPN on its own
record), so the practice or school can find the child in its own system. The organisation comes
from data the store already has: a GP row's practice is the child's GP registration current at
the as-at date; an EDUCATION row's school is the school of an EHCP open at the as-at date, else
of the latest attendance summary, else of the latest attendance session.

`record_agency_rows` fills the store table `exception_agency_rows` (sql/web/exception_agency_rows.sql),
which the web workspace reads too, so files and pages agree on who owns a row.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from caseflags.outputs.agencies import (
    LA_CHILD_ID_AGENCIES,
    agency_folder_name,
    agency_rows,
)
from caseflags.outputs.files import safe_folder_name, workbook, write_csv
from caseflags.outputs.run_outputs import remove_entries_except
from caseflags.private_files import owner_only, private_dir
from caseflags.resources import SQL_DIR, sql_text

AGENCY_ROWS_SQL = SQL_DIR / "web" / "exception_agency_rows.sql"
# Agencies keyed by the LA child id (the LA's own services); other agencies never see it.
ORGANISATION_AGENCIES = {"GP": "GP_PRACTICE", "EDUCATION": "SCHOOL"}

# extension (issue 25): risk, and whom to call in social care (by name and team, never an id)
PARTNER_EXTRA_COLUMNS = ("priority", "priority_reason", "social_worker_name", "social_worker_team")
ORG_COLUMNS = {
    "GP": (
        "exception_id",
        "check_id",
        "concern",
        "severity",
        "practice_code",
        "agency_record_ids",
        "nhs_number",
        "entity_type",
        "entity_id",
        "detail",
        "locator",
        "first_seen",
        "status",
        "review_status",
        "review_note",
        "as_at",
        *PARTNER_EXTRA_COLUMNS,
    ),
    "EDUCATION": (
        "exception_id",
        "check_id",
        "concern",
        "severity",
        "school_urn",
        "person_id",
        "agency_record_ids",
        "upn",
        "entity_type",
        "entity_id",
        "detail",
        "locator",
        "first_seen",
        "status",
        "review_status",
        "review_note",
        "as_at",
        *PARTNER_EXTRA_COLUMNS,
    ),
}


def statements(path: Path) -> list[str]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE) if s.strip()]


def run_sql_file(con: duckdb.DuckDBPyConnection, path: Path, parameters: dict) -> None:
    """Each statement of the file with the named parameters it uses."""
    for statement in statements(path):
        used = {k: v for k, v in parameters.items() if f"${k}" in statement}
        con.execute(statement, used).fetchall()


def record_agency_rows(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date) -> None:
    """Fill `exception_agency_rows` for the run's listed exceptions (idempotent per run)."""
    con.execute("BEGIN TRANSACTION")
    try:
        run_sql_file(
            con, AGENCY_ROWS_SQL, {"run_id": run_id, "as_at": as_at, "la_child_id_agencies": list(LA_CHILD_ID_AGENCIES)}
        )
        _mask_by_exact_identity(con, run_id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _mask_by_exact_identity(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Replace detail, locator and entity_id by the agency files' own masked values (mask_ids:
    exact identity, no pattern), so organisation files, agency files and the web agree."""
    masked = [
        {
            "exception_id": row["exception_id"],
            "detail": row["detail"],
            "locator": row["locator"],
            "entity_id": row["entity_id"],
        }
        for rows in agency_rows(con, run_id).values()
        for row in rows
    ]
    frame = pl.DataFrame(
        masked, schema={"exception_id": pl.Utf8, "detail": pl.Utf8, "locator": pl.Utf8, "entity_id": pl.Utf8}
    )
    con.register("_masked_rows", frame)
    try:
        con.execute(
            """UPDATE exception_agency_rows AS target
               SET agency_detail = masked.detail, agency_locator = masked.locator, agency_entity_id = masked.entity_id
               FROM _masked_rows AS masked
               WHERE target.run_id = $run_id AND target.exception_id = masked.exception_id""",
            {"run_id": run_id},
        )
    finally:
        con.unregister("_masked_rows")


def folder_name(code: str) -> str:
    """An organisation's folder: the code when plain, else its safe characters and a hash of the
    exact code (`L81010.` and `L81010`, `109019/` and `109019` never share a folder)."""
    return safe_folder_name(code)


def organisation_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[tuple[str, str], list[dict]]:
    """(agency, organisation) -> the rows of that school or practice, masked, with own identifiers."""
    cursor = con.execute(sql_text("outputs/organisation_rows.sql"), {"run_id": run_id})
    columns = [c[0] for c in cursor.description]
    grouped: dict[tuple[str, str], list[dict]] = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        row["practice_code"] = row["school_urn"] = row["organisation"]
        grouped.setdefault((row["agency"], row["organisation"]), []).append(row)
    return grouped


def _write_xlsx(path: Path, columns: tuple[str, ...], rows: list[dict], title: str, as_at: date) -> None:
    with workbook(path) as book:
        # Created "as at": the same rows make the same bytes, so an unchanged file is not rewritten.
        book.set_properties({"created": datetime.combine(as_at, datetime.min.time())})
        header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        sheet = book.add_worksheet("Exceptions")
        sheet.write_row(0, 0, columns, header)
        for col, name in enumerate(columns):
            sheet.set_column(col, col, 60 if name == "detail" else 18, wrap if name == "detail" else None)
        for r, row in enumerate(rows, start=1):
            for col, name in enumerate(columns):
                value = row.get(name)
                sheet.write_string(
                    r, col, "" if value is None else (value.isoformat() if isinstance(value, date) else str(value))
                )
        sheet.freeze_panes(1, 1)
        sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
        sheet.set_header(title)


def write_organisation_outputs(
    con: duckdb.DuckDBPyConnection, run_id: str, as_at: date, run_dir: str | os.PathLike
) -> dict:
    """`agencies/<AGENCY>/<ORG>/exceptions.csv` and `.xlsx` for each school and GP practice with
    listed rows; call after `write_run_outputs` (which rebuilds `agencies/`). Returns the paths."""
    record_agency_rows(con, run_id, as_at)
    written: dict[tuple[str, str], Path] = {}
    with owner_only():
        agencies = private_dir(Path(run_dir) / "agencies")
        for (agency, organisation), rows in organisation_rows(con, run_id).items():
            columns = ORG_COLUMNS[agency]
            folder = private_dir(private_dir(agencies / agency_folder_name(agency)) / folder_name(organisation))
            write_csv(folder / "exceptions.csv", columns, rows)
            _write_xlsx(
                folder / "exceptions.xlsx", columns, rows, f"{agency} {organisation} as at {as_at.isoformat()}", as_at
            )
            written[(agency, organisation)] = folder
        for agency, rows in central_queue_rows(con, run_id).items():
            columns = ORG_COLUMNS[agency] + ("central_queue_reason",)
            folder = private_dir(agencies / folder_name(agency))
            write_csv(folder / f"{CENTRAL_QUEUE_STEM}.csv", columns, rows)
            _write_xlsx(
                folder / f"{CENTRAL_QUEUE_STEM}.xlsx",
                columns,
                rows,
                f"{agency} central queue as at {as_at.isoformat()}",
                as_at,
            )
            written[(agency, CENTRAL_QUEUE_STEM)] = folder
        remove_stale_organisations(agencies, written)
    return written


def remove_stale_organisations(agencies: Path, written: dict[tuple[str, str], Path]) -> None:
    """In each agency folder, the schools, practices and central queue not written this run go
    (the agency files themselves are `write_run_outputs`'s); unchanged ones were left untouched."""
    for folder in (p for p in agencies.iterdir() if p.is_dir() and not p.is_symlink()):
        keep = {"exceptions.csv", "exceptions.xlsx"}
        keep |= {path.name for path in written.values() if path.parent == folder}
        if any(path == folder for (_, stem), path in written.items() if stem == CENTRAL_QUEUE_STEM):
            keep |= {f"{CENTRAL_QUEUE_STEM}.csv", f"{CENTRAL_QUEUE_STEM}.xlsx"}
        remove_entries_except(folder, keep)


# A school or GP row whose organisation cannot be found goes to its agency's central queue,
# `agencies/<AGENCY>/central_queue.csv|xlsx`, with the reason; the agency's own exceptions.csv
# keeps every row, these included.
CENTRAL_QUEUE_STEM = "central_queue"


def central_queue_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[dict]]:
    """agency -> its rows with no organisation, masked, with the reason (exception_triage)."""
    cursor = con.execute(sql_text("outputs/central_queue_rows.sql"), {"run_id": run_id})
    columns = [c[0] for c in cursor.description]
    grouped: dict[str, list[dict]] = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        grouped.setdefault(row["agency"], []).append(row)
    return grouped
