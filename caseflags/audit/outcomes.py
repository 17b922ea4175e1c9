"""Recording the audit: the audit date, the auditors' outcomes, and what they say about each check.

`mark_audited` records when the sample was audited (its children are then left out of later
samples); `import_audit_outcomes` reads the Outcomes sheet of an `audit_sample.xlsx` back, all or
nothing; `confirmation_rates` says per check how often auditors confirmed what it raised.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import duckdb
import fastexcel

from caseflags.audit.model import (
    CONFIRMED,
    NOT_A_CONCERN,
    OUTCOME_SHEET,
    OUTCOMES,
    AuditImportError,
    ImportSummary,
    SampleError,
    check_catalogue,
)
from caseflags.config import default_limits
from caseflags.outputs.workbook_guard import formula_cells, workbook_problems
from caseflags.resources import sql_text
from caseflags.store.database import ensure_store


def mark_audited(con: duckdb.DuckDBPyConnection, sample_id: str, audited_on: date) -> int:
    """Record the date the sample was audited; its children are then left out of later samples
    for the exclusion period. Returns the number of children marked."""
    ensure_store(con)
    sample = con.execute("SELECT as_at FROM audit_samples WHERE sample_id = $id", {"id": sample_id}).fetchone()
    if sample is None:
        raise SampleError(f"no audit sample {sample_id!r} in the store")
    if audited_on < sample[0]:
        raise SampleError(f"audit date {audited_on} is before the sample's as-at date {sample[0]}")
    con.execute("UPDATE audit_samples SET audited_on = $on WHERE sample_id = $id", {"on": audited_on, "id": sample_id})
    return con.execute(
        "SELECT count(*) FROM audit_sample_children WHERE sample_id = $id", {"id": sample_id}
    ).fetchone()[0]


def _read_outcome_rows(xlsx_path: Path, limits: dict) -> list[dict]:
    too_big = workbook_problems(xlsx_path, limits)
    if too_big:
        raise AuditImportError("; ".join(too_big))
    formulas = formula_cells(xlsx_path)
    if formulas:
        raise AuditImportError(
            f"{xlsx_path.name}: nothing imported: "
            + "; ".join(formulas[:10])
            + (f"; and {len(formulas) - 10} more" if len(formulas) > 10 else "")
        )
    try:
        reader = fastexcel.read_excel(str(xlsx_path))
    except Exception as exc:  # fastexcel raises its own error types for unreadable files
        raise AuditImportError(f"{xlsx_path.name}: not a readable Excel workbook ({exc})") from None
    if OUTCOME_SHEET not in reader.sheet_names:
        raise AuditImportError(f"{xlsx_path.name}: no sheet named {OUTCOME_SHEET!r}")
    sheet = reader.load_sheet(OUTCOME_SHEET, dtypes="string")
    columns = [c.name for c in sheet.available_columns()]
    absent = [c for c in ("sample_id", "person_id", "check_id", "outcome", "auditor_note") if c not in columns]
    if absent:
        raise AuditImportError(f"{xlsx_path.name}: sheet {OUTCOME_SHEET} lacks column(s) {', '.join(absent)}")
    return sheet.to_arrow().to_pylist()


def _clean(value: object) -> str:
    return "" if value is None else str(value).strip()


def import_audit_outcomes(
    con: duckdb.DuckDBPyConnection, xlsx_path: str | os.PathLike, recorded_at: datetime, limits: dict | None = None
) -> ImportSummary:
    """Read the auditors' outcomes from an audit_sample.xlsx into `audit_outcomes`.

    The whole file is validated first; on any problem AuditImportError lists them (with sheet
    row numbers) and nothing is applied. A later import of the same sample replaces the outcomes
    of the (child, check) pairs it contains.

    Before it is parsed the workbook must fit [limits] (inflated size, declared cells) and hold
    no formula in any cell; an auditor_note longer than limits.max_text_length is refused.
    """
    ensure_store(con)
    limits = limits or default_limits()
    path = Path(xlsx_path)
    if not path.is_file():
        raise AuditImportError(f"{path.name}: no such file")
    rows = _read_outcome_rows(path, limits)
    problems: list[str] = []
    sample_ids = sorted({_clean(r["sample_id"]) for r in rows if _clean(r["sample_id"])})
    if len(sample_ids) != 1:
        raise AuditImportError(
            f"{path.name}: expected rows of one sample, found {len(sample_ids)} sample ids"
            + (f" ({', '.join(sample_ids)})" if sample_ids else "")
        )
    sample_id = sample_ids[0]
    if con.execute("SELECT 1 FROM audit_samples WHERE sample_id = $id", {"id": sample_id}).fetchone() is None:
        raise AuditImportError(f"{path.name}: sample {sample_id} is not in this store")
    children = {
        r[0]
        for r in con.execute(
            "SELECT person_id FROM audit_sample_children WHERE sample_id = $id", {"id": sample_id}
        ).fetchall()
    }
    flagged_pairs = {
        (r[0], r[1])
        for r in con.execute(
            "SELECT person_id, check_id FROM audit_sample_concerns WHERE sample_id = $id", {"id": sample_id}
        ).fetchall()
    }
    known_checks = set(check_catalogue()) | {check for _, check in flagged_pairs}

    outcomes: dict[tuple[str, str], tuple[str, str | None]] = {}
    pending = 0
    for line, row in enumerate(rows, start=2):  # sheet row numbers: the header is row 1
        row_sample, person_id = _clean(row["sample_id"]), _clean(row["person_id"])
        check_id, outcome = _clean(row["check_id"]).upper(), _clean(row["outcome"]).upper().replace(" ", "_")
        note = _clean(row["auditor_note"]) or None
        if not any([row_sample, person_id, check_id, outcome, note]):
            continue
        if note and len(note) > limits["max_text_length"]:
            problems.append(
                f"row {line}: auditor_note has {len(note):,} characters, more than the limit of "
                f"{limits['max_text_length']:,} (limits.max_text_length)"
            )
            continue
        if row_sample and row_sample != sample_id:
            problems.append(f"row {line}: sample_id {row_sample} is not {sample_id}")
        if person_id not in children:
            problems.append(f"row {line}: person_id {person_id or '(blank)'} is not in sample {sample_id}")
            continue
        if not outcome:
            pending += 1 if check_id else 0
            continue
        if outcome not in OUTCOMES:
            problems.append(f"row {line}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
            continue
        if not check_id:
            problems.append(f"row {line}: outcome given without a check_id")
            continue
        if check_id not in known_checks:
            problems.append(f"row {line}: unknown check_id {check_id}")
            continue
        previous = outcomes.get((person_id, check_id))
        if previous is not None and previous[0] != outcome:
            problems.append(f"row {line}: {person_id} {check_id} has conflicting outcomes")
            continue
        outcomes[(person_id, check_id)] = (outcome, note)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise AuditImportError(f"{path.name}: nothing imported: {shown}")

    records = [
        (sample_id, person_id, check_id, (person_id, check_id) in flagged_pairs, outcome, note, recorded_at, path.name)
        for (person_id, check_id), (outcome, note) in sorted(outcomes.items())
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        for record in records:
            con.execute(sql_text("audit/delete_outcome.sql"), list(record[:3]))
        if records:
            con.executemany(sql_text("audit/insert_outcome.sql"), records)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return ImportSummary(
        sample_id=sample_id,
        rows_imported=len(records),
        confirmed=sum(1 for r in records if r[3] and r[4] == CONFIRMED),
        not_a_concern=sum(1 for r in records if r[3] and r[4] == NOT_A_CONCERN),
        missed=sum(1 for r in records if not r[3] and r[4] == CONFIRMED),
        pending=pending,
    )


def confirmation_rates(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per check, over every recorded audit: how many of the concerns it raised auditors
    confirmed or found not to be a concern, the rate confirmed / (confirmed + not a concern)
    (None before any flagged outcome), and how many concerns auditors found that it missed."""
    ensure_store(con)
    catalogue = check_catalogue()
    rates = []
    for check_id, confirmed, not_a_concern, missed, samples in con.execute(
        sql_text("audit/confirmation_rates.sql")
    ).fetchall():
        judged = confirmed + not_a_concern
        rates.append(
            {
                "check_id": check_id,
                "concern": catalogue.get(check_id),
                "confirmed": confirmed,
                "not_a_concern": not_a_concern,
                "rate": confirmed / judged if judged else None,
                "missed": missed,
                "samples": samples,
            }
        )
    return rates
