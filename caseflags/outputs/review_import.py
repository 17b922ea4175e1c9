"""Review import: the officer's edited exceptions.xlsx back as annotations, all or nothing.

The whole workbook is validated first; every problem is listed and nothing is applied when any
is found (docs/OUTPUTS.md, "Review import").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import fastexcel
import pyarrow as pa

from caseflags.config import default_limits
from caseflags.outputs.lifecycle import DEFAULT_EXPIRY_DAYS, REVIEW_STATUSES, transaction
from caseflags.outputs.workbook import (
    EXPORTED_NOTE_COLUMN,
    EXPORTED_STATUS_COLUMN,
    HEADER_ROWS,
    IMPORT_KEY_COLUMNS,
    LEGACY_WORKBOOK_FORMAT,
    META_SHEET,
    SUMMARY_SHEET,
    WORKBOOK_FORMAT,
    column_letter,
    sheet_name_for,
)
from caseflags.outputs.workbook_guard import formula_cells, workbook_problems
from caseflags.resources import sql_text
from caseflags.store.database import ensure_store


class ReviewImportError(ValueError):
    """The annotations workbook cannot be imported; nothing was applied.

    `problems` lists every problem found (sheet, row and column named); the message is the
    first of them and how many more there are.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}; nothing was imported")


@dataclass(frozen=True)
class ImportSummary:
    source_file: str
    rows_read: int
    annotations_added: int
    unchanged: int
    added_by_status: dict[str, int] = field(default_factory=dict)


def _cell_text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _read_workbook(path: Path) -> tuple[list[str], dict[str, list[str]], dict[str, list[dict]], int]:
    """Sheet names, the header of every sheet, every sheet's rows as strings, and the Excel row
    number of the first data row. A v2 workbook's check sheets have the machine names in row 1
    (hidden) and the plain headers in row 2, which is skipped; v1 had the machine names only."""
    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # fastexcel raises its own error types for unreadable files
        raise ReviewImportError([f"{path.name} cannot be read as an .xlsx workbook ({type(exc).__name__})"]) from None
    headers: dict[str, list[str]] = {}
    rows: dict[str, list[dict]] = {}
    legacy = True
    if META_SHEET in reader.sheet_names:
        try:
            meta = reader.load_sheet(META_SHEET, header_row=0, dtypes="string").to_arrow().to_pylist()
            legacy = {str(r.get("key")): r.get("value") for r in meta}.get("format") == LEGACY_WORKBOOK_FORMAT
        except Exception:
            legacy = True
    for name in reader.sheet_names:
        skip = 1 if not legacy and name not in (SUMMARY_SHEET, META_SHEET) else None
        try:
            table = reader.load_sheet(name, header_row=0, skip_rows=skip, dtypes="string").to_arrow()
        except Exception:
            headers[name], rows[name] = [], []  # an empty sheet has no header row
            continue
        headers[name] = list(table.schema.names)
        rows[name] = table.to_pylist()
    return list(reader.sheet_names), headers, rows, (2 if legacy else HEADER_ROWS + 1)


def import_review(
    con: duckdb.DuckDBPyConnection,
    xlsx_path: str | os.PathLike,
    now: datetime,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    limits: dict | None = None,
) -> ImportSummary:
    """Store the officer's review_status / review_note edits from an exceptions workbook.

    The whole workbook is validated before anything is stored: it must be a caseflags
    exceptions workbook (main or agency), every sheet other than Summary must be one of its
    check sheets, every row must name a known exception id of that check and a known review
    status. Any problem raises ReviewImportError naming sheet, row and column; nothing is
    applied. A row creates an annotation (timestamped `now`) only when the officer changed it
    from what the workbook was exported with and it differs from the latest stored annotation,
    so importing an older file never undoes a newer review. FALSE_POSITIVE and ACCEPTED_RISK
    expire `expiry_days` after `now`.

    Before it is parsed, the workbook must fit [limits] (`workbook_problems`: inflated size,
    declared cells); a note longer than limits.max_text_length, a formula in any cell, or an edit
    to a read-only column (anything but review_status and review_note) is refused, naming the cell.
    """
    ensure_store(con)
    limits = limits or default_limits()
    path = Path(xlsx_path)
    if not path.is_file():
        raise ReviewImportError([f"{path.name}: no such file"])
    too_big = workbook_problems(path, limits)
    if too_big:
        raise ReviewImportError(too_big)
    sheet_names, headers, rows_by_sheet, first_data_row = _read_workbook(path)

    if META_SHEET not in sheet_names:
        raise ReviewImportError([f"{path.name} is not a caseflags exceptions workbook (no '{META_SHEET}' sheet)"])
    meta = {str(r.get("key")): r.get("value") for r in rows_by_sheet.get(META_SHEET, [])}
    if meta.get("format") not in (WORKBOOK_FORMAT, LEGACY_WORKBOOK_FORMAT):
        raise ReviewImportError([f"{path.name}: sheet '{META_SHEET}' does not declare format {WORKBOOK_FORMAT}"])

    # Against the exact workbook written: its run, its sheets, its rows, and no formulas.
    problems: list[str] = [f"{path.name}: {p}" for p in formula_cells(path)]
    written = _written_workbook(con, meta, path.name, problems)
    if written is not None:
        for sheet in sheet_names:
            if sheet not in (SUMMARY_SHEET, META_SHEET) and sheet not in written:
                problems.append(
                    f"sheet '{sheet}' is not a caseflags exceptions sheet of run {meta.get('run_id')} "
                    "(renamed or added since the workbook was written)"
                )
        for sheet, (check_id, _ids) in sorted(written.items()):
            if sheet not in sheet_names:
                problems.append(f"sheet '{sheet}' of check {check_id} is missing (renamed or deleted): restore it")
    if SUMMARY_SHEET not in sheet_names:
        problems.append(f"sheet '{SUMMARY_SHEET}' is missing (renamed or deleted): restore it")

    ids_on_sheets: set[tuple[str, str | None]] = set()  # every (sheet, id) present, valid or not
    edits: dict[str, dict] = {}  # exception_id -> the row's values and where it was read
    for sheet in sheet_names:
        if sheet in (SUMMARY_SHEET, META_SHEET):
            continue
        header = headers[sheet]
        missing = [c for c in IMPORT_KEY_COLUMNS if c not in header]
        if missing:
            problems.append(f"sheet '{sheet}' is not a caseflags exceptions sheet (no column {', '.join(missing)})")
            continue
        letter = {name: column_letter(i) for i, name in enumerate(header)}
        for index, row in enumerate(rows_by_sheet[sheet]):
            excel_row = index + first_data_row
            values = {name: _cell_text(row.get(name)) for name in IMPORT_KEY_COLUMNS}
            if not any(_cell_text(v) for v in row.values()):
                continue
            where = f"sheet '{sheet}' row {excel_row}"
            exception_id = values["exception_id"]
            ids_on_sheets.add((sheet, exception_id))
            if exception_id is None:
                problems.append(f"{where} column {letter['exception_id']} (exception_id): empty")
                continue
            status_text = values["review_status"] or "UNREVIEWED"
            status = status_text.upper()
            if status not in REVIEW_STATUSES:
                problems.append(
                    f"{where} column {letter['review_status']} (review_status): unknown status "
                    f"'{status_text}'; expected one of {', '.join(REVIEW_STATUSES)}"
                )
                continue
            if values["review_note"] and len(values["review_note"]) > limits["max_text_length"]:
                problems.append(
                    f"{where} column {letter['review_note']} (review_note): {len(values['review_note']):,} characters, "
                    f"more than the limit of {limits['max_text_length']:,} (limits.max_text_length)"
                )
                continue
            edit = {
                "exception_id": exception_id,
                "check_id": values["check_id"],
                "review_status": status,
                "review_note": values["review_note"],
                "exported_status": (values[EXPORTED_STATUS_COLUMN] or "UNREVIEWED").upper(),
                "exported_note": values[EXPORTED_NOTE_COLUMN],
                "where": where,
                "sheet": sheet,
                "id_column": letter["exception_id"],
                "check_column": letter["check_id"],
            }
            earlier = edits.get(exception_id)
            if earlier and (earlier["review_status"], earlier["review_note"]) != (status, edit["review_note"]):
                problems.append(
                    f"{where} column {letter['exception_id']} (exception_id): exception {exception_id} "
                    f"is also in {earlier['where']} with a different review"
                )
                continue
            edits[exception_id] = edit

    if edits:
        file_ids = pa.table({"exception_id": list(edits)})
        con.register("review_file_ids", file_ids)
        try:
            known = dict(con.execute(sql_text("outputs/review_known_ids.sql")).fetchall())
        finally:
            con.unregister("review_file_ids")
        for exception_id, edit in edits.items():
            if exception_id not in known:
                problems.append(
                    f"{edit['where']} column {edit['id_column']} (exception_id): unknown exception id '{exception_id}'"
                )
            elif edit["check_id"] is not None and edit["check_id"] != known[exception_id]:
                problems.append(
                    f"{edit['where']} column {edit['check_column']} (check_id): exception {exception_id} "
                    f"belongs to check {known[exception_id]}, not '{edit['check_id']}'"
                )
    if written is not None:
        problems += _read_only_edits(con, meta, headers, rows_by_sheet, first_data_row)
        # The rule for removed rows: none may be removed. A row the officer wants gone is
        # reviewed instead (RESOLVED_AT_SOURCE, FALSE_POSITIVE ...); deleting it would silently
        # drop an exception from the review record.
        for sheet, (_check_id, ids) in sorted(written.items()):
            if sheet not in sheet_names:
                continue
            removed = sorted(i for i in ids if (sheet, i) not in ids_on_sheets)
            for exception_id in removed:
                problems.append(
                    f"sheet '{sheet}': the row of exception {exception_id} was removed; restore it "
                    "(rows are never deleted: set review_status instead)"
                )

    if problems:
        raise ReviewImportError(problems)

    officer_changed = [
        e
        for e in edits.values()
        if (e["review_status"], e["review_note"]) != (e["exported_status"], e["exported_note"])
    ]
    candidates = pa.table(
        {
            "exception_id": [e["exception_id"] for e in officer_changed],
            "review_status": [e["review_status"] for e in officer_changed],
            "review_note": [e["review_note"] for e in officer_changed],
        },
        schema=pa.schema([("exception_id", pa.string()), ("review_status", pa.string()), ("review_note", pa.string())]),
    )
    con.register("review_candidates", candidates)
    try:
        with transaction(con):
            import_seq = con.execute("SELECT coalesce(max(import_seq), 0) + 1 FROM annotations").fetchone()[0]
            added = con.execute(
                sql_text("outputs/annotations_insert.sql"),
                {"now": now, "source_file": path.name, "expiry_days": int(expiry_days), "import_seq": import_seq},
            ).fetchall()
    finally:
        con.unregister("review_candidates")
    by_status: dict[str, int] = {}
    for (status,) in added:
        by_status[status] = by_status.get(status, 0) + 1
    return ImportSummary(
        source_file=path.name,
        rows_read=len(edits),
        annotations_added=len(added),
        unchanged=len(edits) - len(added),
        added_by_status=dict(sorted(by_status.items())),
    )


# Columns an officer may change, and columns derived from the reviews (they change with every
# import, so an older file's differ without anyone editing them).
_NOT_COMPARED = {
    "review_status",
    "review_note",
    "last_review",
    "reviewer",
    "assignee",
    EXPORTED_STATUS_COLUMN,
    EXPORTED_NOTE_COLUMN,
}


def _as_written(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None


def _as_read(value, expected: str | None) -> str | None:
    text = _cell_text(value)
    # a date cell reads back as "2026-11-24 00:00:00"
    if (
        text
        and expected
        and len(expected) == 10
        and text.startswith(expected)
        and text[10:].strip() in ("", "00:00:00")
    ):
        return expected
    return text


def _same_number(got: str | None, want: str | None) -> bool:
    """A number written as 40.0 reads back as 40 (and the other way round): the same value."""
    try:
        return got is not None and want is not None and float(got) == float(want)
    except ValueError:
        return False


def _read_only_edits(
    con: duckdb.DuckDBPyConnection,
    meta: dict,
    headers: dict[str, list[str]],
    rows_by_sheet: dict[str, list[dict]],
    first_data_row: int = 2,
) -> list[str]:
    """Every cell of a read-only column (person_id, agency, detail, ...) whose value differs from
    what caseflags wrote for that exception, named by sheet, row and column."""
    from caseflags.outputs.agencies import agency_rows
    from caseflags.outputs.run_outputs import listed_rows

    run_id, scope = meta.get("run_id"), meta.get("scope") or "ALL"
    rows = listed_rows(con, run_id) if scope == "ALL" else agency_rows(con, run_id).get(scope, [])
    expected_by_id = {row["exception_id"]: row for row in rows}
    problems = []
    for sheet, sheet_rows in rows_by_sheet.items():
        if sheet in (SUMMARY_SHEET, META_SHEET) or "exception_id" not in headers.get(sheet, []):
            continue
        header = headers[sheet]
        for index, row in enumerate(sheet_rows):
            expected = expected_by_id.get(_cell_text(row.get("exception_id")))
            if expected is None:
                continue  # an unknown or moved id is reported on its own
            for col, name in enumerate(header):
                if name in _NOT_COMPARED or name not in expected:
                    continue
                want = _as_written(expected[name])
                got = _as_read(row.get(name), want)
                if got != want and not _same_number(got, want):
                    problems.append(
                        f"sheet '{sheet}' row {index + first_data_row} column {column_letter(col)} ({name}): read-only, was "
                        f"{want or '(blank)'!r}, now {got or '(blank)'!r}; only review_status and review_note "
                        "may be edited: restore it"
                    )
    return problems


def _written_workbook(
    con: duckdb.DuckDBPyConnection, meta: dict, file_name: str, problems: list[str]
) -> dict[str, tuple[str, set[str]]] | None:
    """The check sheets of the workbook caseflags wrote for the run and scope named in its
    `_caseflags` sheet: sheet name -> (check id, exception ids). None when the run is unknown."""
    run_id, scope = meta.get("run_id"), meta.get("scope") or "ALL"
    known = (
        con.execute("SELECT as_at FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}).fetchone()
        if run_id
        else None
    )
    if known is None:
        problems.append(
            f"{file_name}: sheet '{META_SHEET}' names run {run_id or '(none)'}, which this store does not hold "
            "(another store, or a run since pruned)"
        )
        return None
    if meta.get("as_at") not in (None, known[0].isoformat()):
        problems.append(
            f"{file_name}: sheet '{META_SHEET}' says as at {meta.get('as_at')}, run {run_id} is as at {known[0]}"
        )
    rows = con.execute(
        sql_text("outputs/review_written_rows.sql"), {"run_id": run_id, "agency": None if scope == "ALL" else scope}
    ).fetchall()
    written: dict[str, tuple[str, set[str]]] = {}
    for check_id, exception_id in rows:
        written.setdefault(sheet_name_for(check_id, meta.get("format")), (check_id, set()))[1].add(exception_id)
    return written
