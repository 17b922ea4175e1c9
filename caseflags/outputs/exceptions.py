"""Exception lifecycle, review annotations, and the files of one run.

Plain functions over one DuckDB connection (no Prefect):

- `update_lifecycle` turns a run's raised exceptions (`exceptions`, `check_runs`) into history:
  NEW / OPEN / RESOLVED against the previous run, carrying the open exceptions of a check that
  was not evaluated this run instead of resolving them.
- `import_review` reads a data officer's edited `exceptions.xlsx` back as annotations, after
  validating the whole workbook (nothing is applied when any row is wrong).
- `write_run_outputs` writes `exceptions.csv`, `exceptions.xlsx`, `agencies/<AGENCY>/...` and
  `report.html` into the run's folder, readable by the owner only.

Store objects created here (besides the views the contract names): `lifecycle_runs`,
`exception_history`, `annotations`, and the views `exception_status`, `annotations_latest`,
`exceptions_listed`, `exceptions_current`, `run_history`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa

from caseflags.private_files import DIR_MODE, FILE_MODE, owner_only, private_dir
from caseflags.store.database import ensure_store

LIFECYCLE_STATUSES = ("NEW", "OPEN", "RESOLVED")
LISTED_STATUSES = ("NEW", "OPEN")
REVIEW_STATUSES = ("UNREVIEWED", "IN_HAND", "RESOLVED_AT_SOURCE", "FALSE_POSITIVE", "ACCEPTED_RISK")
# Reviews that keep an exception listed but marked, until they expire and need a fresh look.
EXPIRING_REVIEW_STATUSES = ("FALSE_POSITIVE", "ACCEPTED_RISK")
DEFAULT_EXPIRY_DAYS = 180

# exceptions.csv, in this order (OUTPUTS.md).
CSV_COLUMNS = (
    "exception_id", "check_id", "concern", "severity", "person_id", "agency", "entity_type",
    "entity_id", "detail", "locator", "first_seen", "status", "review_status", "review_note", "as_at",
)
# Agencies whose own records are keyed by the LA child id (pers_person_id); every other agency
# gets its own record ids for the child instead, never the social care id.
LA_CHILD_ID_AGENCIES = ("SOCIAL_CARE", "EDUCATION")

WORKBOOK_FORMAT = "caseflags-exceptions-v1"
SUMMARY_SHEET = "Summary"
META_SHEET = "_caseflags"
# Review columns and the values the workbook was exported with (hidden), which let an import
# tell an officer's edit from an untouched row of an older file.
EXPORTED_STATUS_COLUMN = "_exported_review_status"
EXPORTED_NOTE_COLUMN = "_exported_review_note"
IMPORT_KEY_COLUMNS = ("exception_id", "check_id", "review_status", "review_note", EXPORTED_STATUS_COLUMN, EXPORTED_NOTE_COLUMN)
SHEET_NAME_LIMIT = 31  # Excel's limit on a worksheet name



# --------------------------------------------------------------------------------------------
# Store objects
# --------------------------------------------------------------------------------------------

LIFECYCLE_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS lifecycle_runs (
    run_id VARCHAR PRIMARY KEY,
    as_at DATE NOT NULL,
    seq INTEGER NOT NULL,             -- order in which runs entered the lifecycle
    previous_run_id VARCHAR           -- the run this one is compared with (NULL for the first)
);
CREATE TABLE IF NOT EXISTS exception_history (
    run_id VARCHAR NOT NULL,
    as_at DATE NOT NULL,
    exception_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR,
    person_id VARCHAR,
    agency VARCHAR NOT NULL,
    entity_type VARCHAR,
    entity_id VARCHAR,
    detail VARCHAR,
    locator VARCHAR,
    first_seen DATE NOT NULL,         -- as-at of the first run that raised it
    status VARCHAR NOT NULL,          -- NEW / OPEN / RESOLVED
    evaluated_as_at DATE NOT NULL     -- as-at of the run whose check produced this row (older when carried)
);
CREATE TABLE IF NOT EXISTS annotations (
    exception_id VARCHAR NOT NULL,
    review_status VARCHAR NOT NULL,
    review_note VARCHAR,
    annotated_at TIMESTAMP NOT NULL,
    source_file VARCHAR,
    expires_on DATE,                  -- FALSE_POSITIVE / ACCEPTED_RISK only
    import_seq INTEGER NOT NULL       -- orders annotations made at the same instant
);
"""

VIEWS_SQL = """
CREATE OR REPLACE VIEW annotations_latest AS
SELECT *
FROM annotations
QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY annotated_at DESC, import_seq DESC) = 1;

CREATE OR REPLACE VIEW exceptions_listed AS
WITH listed_history AS (
    SELECT * FROM exception_history WHERE status IN ('NEW', 'OPEN')
)
SELECT
    listed_history.*,
    CASE
        WHEN latest.exception_id IS NULL THEN 'UNREVIEWED'
        WHEN latest.expires_on IS NOT NULL AND listed_history.as_at >= latest.expires_on THEN 'UNREVIEWED'
        ELSE latest.review_status
    END AS review_status,
    latest.review_note,
    latest.review_status AS last_review_status,
    latest.annotated_at AS last_annotated_at,
    latest.expires_on AS review_expires_on,
    coalesce(latest.expires_on IS NOT NULL AND listed_history.as_at >= latest.expires_on, FALSE) AS review_expired
FROM listed_history
LEFT JOIN annotations_latest AS latest ON latest.exception_id = listed_history.exception_id;

CREATE OR REPLACE VIEW exceptions_current AS
SELECT exception_id, check_id, concern, severity, person_id, agency, entity_type, entity_id, detail,
       locator, first_seen, status, review_status, review_note, as_at
FROM exceptions_listed
WHERE run_id = (SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1);

CREATE OR REPLACE VIEW exception_status AS
WITH history_in_order AS (
    SELECT history.*, lifecycle_runs.seq
    FROM exception_history AS history
    JOIN lifecycle_runs ON lifecycle_runs.run_id = history.run_id
),
latest_state AS (
    SELECT * FROM history_in_order
    QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY seq DESC) = 1
),
last_raised AS (
    SELECT exception_id, max(evaluated_as_at) FILTER (WHERE status IN ('NEW', 'OPEN')) AS last_seen
    FROM history_in_order
    GROUP BY exception_id
)
SELECT
    latest_state.exception_id, latest_state.check_id, latest_state.concern, latest_state.severity,
    latest_state.person_id, latest_state.agency, latest_state.entity_type, latest_state.entity_id,
    latest_state.detail, latest_state.locator, latest_state.first_seen, last_raised.last_seen,
    latest_state.status,
    CASE WHEN latest_state.status = 'RESOLVED' THEN latest_state.as_at END AS resolved_on,
    latest_state.run_id AS last_run_id
FROM latest_state
JOIN last_raised ON last_raised.exception_id = latest_state.exception_id;

CREATE OR REPLACE VIEW run_history AS
WITH counts_by_run AS (
    SELECT
        run_id,
        count(*) FILTER (WHERE status = 'NEW') AS new,
        count(*) FILTER (WHERE status = 'OPEN') AS open,
        count(*) FILTER (WHERE status = 'RESOLVED') AS resolved
    FROM exception_history
    GROUP BY run_id
)
SELECT
    coalesce(runs.run_id, lifecycle_runs.run_id) AS run_id,
    coalesce(runs.as_at, lifecycle_runs.as_at) AS as_at,
    runs.started_at,
    runs.finished_at,
    runs.status,
    CASE WHEN lifecycle_runs.run_id IS NOT NULL THEN coalesce(counts_by_run.new, 0) END AS new,
    CASE WHEN lifecycle_runs.run_id IS NOT NULL THEN coalesce(counts_by_run.open, 0) END AS open,
    CASE WHEN lifecycle_runs.run_id IS NOT NULL THEN coalesce(counts_by_run.resolved, 0) END AS resolved,
    lifecycle_runs.seq AS lifecycle_seq
FROM runs
FULL OUTER JOIN lifecycle_runs ON lifecycle_runs.run_id = runs.run_id
LEFT JOIN counts_by_run ON counts_by_run.run_id = coalesce(runs.run_id, lifecycle_runs.run_id);
"""

LIFECYCLE_INSERT_SQL = """
INSERT INTO exception_history
WITH previous_listed AS (
    SELECT * FROM exception_history WHERE run_id = $previous_run_id AND status IN ('NEW', 'OPEN')
),
raised_now AS (
    SELECT * FROM exceptions WHERE run_id = $run_id
    QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY check_id, agency) = 1
),
evaluated_checks AS (
    SELECT check_id FROM check_runs WHERE run_id = $run_id AND status = 'EVALUATED'
    UNION
    SELECT check_id FROM raised_now
),
first_seen_earlier AS (
    SELECT history.exception_id, min(history.first_seen) AS first_seen
    FROM exception_history AS history
    JOIN lifecycle_runs ON lifecycle_runs.run_id = history.run_id
    WHERE lifecycle_runs.seq < $seq
      AND history.exception_id IN (SELECT exception_id FROM raised_now)
    GROUP BY history.exception_id
),
raised AS (
    SELECT
        $run_id AS run_id, $as_at AS as_at, raised_now.exception_id, raised_now.check_id,
        raised_now.concern, raised_now.severity, raised_now.person_id, raised_now.agency,
        raised_now.entity_type, raised_now.entity_id, raised_now.detail, raised_now.locator,
        least(coalesce(first_seen_earlier.first_seen, $as_at), $as_at) AS first_seen,
        CASE WHEN previous_listed.exception_id IS NULL THEN 'NEW' ELSE 'OPEN' END AS status,
        $as_at AS evaluated_as_at
    FROM raised_now
    LEFT JOIN previous_listed ON previous_listed.exception_id = raised_now.exception_id
    LEFT JOIN first_seen_earlier ON first_seen_earlier.exception_id = raised_now.exception_id
),
no_longer_raised AS (
    SELECT previous_listed.*, previous_listed.check_id IN (SELECT check_id FROM evaluated_checks) AS check_evaluated
    FROM previous_listed
    WHERE previous_listed.exception_id NOT IN (SELECT exception_id FROM raised_now)
),
carried_or_resolved AS (
    -- A check not evaluated this run cannot say its exceptions are gone: carry them as open.
    SELECT
        $run_id AS run_id, $as_at AS as_at, exception_id, check_id, concern, severity, person_id,
        agency, entity_type, entity_id, detail, locator, first_seen,
        CASE WHEN check_evaluated THEN 'RESOLVED' ELSE 'OPEN' END AS status,
        evaluated_as_at
    FROM no_longer_raised
)
SELECT * FROM raised
UNION ALL
SELECT * FROM carried_or_resolved
"""


def ensure_output_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the lifecycle and annotation tables and the consumer views (idempotent)."""
    ensure_store(con)
    con.execute(LIFECYCLE_TABLES_SQL)
    con.execute(VIEWS_SQL)


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing. Callers must not hold a transaction open: DuckDB has no nesting, and a
    failed BEGIN would abort theirs."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LifecycleCounts:
    run_id: str
    previous_run_id: str | None
    new: int
    open: int
    resolved: int
    carried: int  # open rows of checks not evaluated this run, carried from an earlier run


def update_lifecycle(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date) -> LifecycleCounts:
    """Record this run's exceptions as NEW / OPEN / RESOLVED against the previous run.

    The previous run is the one that entered the lifecycle just before this run_id (a rerun of
    the same run_id keeps its place and replaces its own history, so it is idempotent). NEW:
    raised now and not listed in the previous run; OPEN: listed then and raised now;
    RESOLVED: listed then, not raised now, and its check evaluated now. Exceptions of a check
    that is NOT_EVALUATED this run (or absent from `check_runs`) are carried as OPEN with their
    last evaluated detail. `first_seen` is the as-at of the first run that ever raised it.
    """
    ensure_output_tables(con)
    with _transaction(con):
        existing = con.execute(
            "SELECT seq, previous_run_id FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}
        ).fetchone()
        if existing:
            seq, previous_run_id = existing
            con.execute("UPDATE lifecycle_runs SET as_at = $as_at WHERE run_id = $run_id", {"run_id": run_id, "as_at": as_at})
        else:
            last = con.execute("SELECT seq, run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1").fetchone()
            seq = (last[0] + 1) if last else 1
            previous_run_id = last[1] if last else None
            con.execute(
                "INSERT INTO lifecycle_runs VALUES ($run_id, $as_at, $seq, $previous_run_id)",
                {"run_id": run_id, "as_at": as_at, "seq": seq, "previous_run_id": previous_run_id},
            )
        con.execute("DELETE FROM exception_history WHERE run_id = $run_id", {"run_id": run_id})
        con.execute(
            LIFECYCLE_INSERT_SQL,
            {"run_id": run_id, "as_at": as_at, "seq": seq, "previous_run_id": previous_run_id},
        )
        new, open_, resolved, carried = con.execute(
            """
            SELECT
                count(*) FILTER (WHERE status = 'NEW'),
                count(*) FILTER (WHERE status = 'OPEN'),
                count(*) FILTER (WHERE status = 'RESOLVED'),
                count(*) FILTER (WHERE status = 'OPEN' AND evaluated_as_at < as_at)
            FROM exception_history WHERE run_id = $run_id
            """,
            {"run_id": run_id},
        ).fetchone()
    return LifecycleCounts(run_id, previous_run_id, new, open_, resolved, carried)


# --------------------------------------------------------------------------------------------
# Review import
# --------------------------------------------------------------------------------------------

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


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _cell_text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _read_workbook(path: Path) -> tuple[list[str], dict[str, list[str]], dict[str, list[dict]]]:
    """Sheet names, the header of every sheet, and every sheet's rows as strings."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # fastexcel raises its own error types for unreadable files
        raise ReviewImportError([f"{path.name} cannot be read as an .xlsx workbook ({type(exc).__name__})"]) from None
    headers: dict[str, list[str]] = {}
    rows: dict[str, list[dict]] = {}
    for name in reader.sheet_names:
        try:
            table = reader.load_sheet(name, header_row=0, dtypes="string").to_arrow()
        except Exception:
            headers[name], rows[name] = [], []  # an empty sheet has no header row
            continue
        headers[name] = list(table.schema.names)
        rows[name] = table.to_pylist()
    return list(reader.sheet_names), headers, rows


def import_review(
    con: duckdb.DuckDBPyConnection,
    xlsx_path: str | os.PathLike,
    now: datetime,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
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
    """
    ensure_output_tables(con)
    path = Path(xlsx_path)
    if not path.is_file():
        raise ReviewImportError([f"{path.name}: no such file"])
    sheet_names, headers, rows_by_sheet = _read_workbook(path)

    if META_SHEET not in sheet_names:
        raise ReviewImportError([f"{path.name} is not a caseflags exceptions workbook (no '{META_SHEET}' sheet)"])
    meta = {str(r.get("key")): r.get("value") for r in rows_by_sheet.get(META_SHEET, [])}
    if meta.get("format") != WORKBOOK_FORMAT:
        raise ReviewImportError([f"{path.name}: sheet '{META_SHEET}' does not declare format {WORKBOOK_FORMAT}"])

    problems: list[str] = []
    edits: dict[str, dict] = {}  # exception_id -> the row's values and where it was read
    for sheet in sheet_names:
        if sheet in (SUMMARY_SHEET, META_SHEET):
            continue
        header = headers[sheet]
        missing = [c for c in IMPORT_KEY_COLUMNS if c not in header]
        if missing:
            problems.append(f"sheet '{sheet}' is not a caseflags exceptions sheet (no column {', '.join(missing)})")
            continue
        letter = {name: _column_letter(i) for i, name in enumerate(header)}
        for index, row in enumerate(rows_by_sheet[sheet]):
            excel_row = index + 2  # header is row 1
            values = {name: _cell_text(row.get(name)) for name in IMPORT_KEY_COLUMNS}
            if not any(_cell_text(v) for v in row.values()):
                continue
            where = f"sheet '{sheet}' row {excel_row}"
            exception_id = values["exception_id"]
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
            edit = {
                "exception_id": exception_id,
                "check_id": values["check_id"],
                "review_status": status,
                "review_note": values["review_note"],
                "exported_status": (values[EXPORTED_STATUS_COLUMN] or "UNREVIEWED").upper(),
                "exported_note": values[EXPORTED_NOTE_COLUMN],
                "where": where,
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
            known = dict(
                con.execute(
                    """
                    SELECT DISTINCT history.exception_id, history.check_id
                    FROM exception_history AS history
                    JOIN review_file_ids ON review_file_ids.exception_id = history.exception_id
                    """
                ).fetchall()
            )
        finally:
            con.unregister("review_file_ids")
        for exception_id, edit in edits.items():
            if exception_id not in known:
                problems.append(f"{edit['where']} column {edit['id_column']} (exception_id): unknown exception id '{exception_id}'")
            elif edit["check_id"] is not None and edit["check_id"] != known[exception_id]:
                problems.append(
                    f"{edit['where']} column {edit['check_column']} (check_id): exception {exception_id} "
                    f"belongs to check {known[exception_id]}, not '{edit['check_id']}'"
                )
    if problems:
        raise ReviewImportError(problems)

    officer_changed = [
        e for e in edits.values() if (e["review_status"], e["review_note"]) != (e["exported_status"], e["exported_note"])
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
        with _transaction(con):
            import_seq = con.execute("SELECT coalesce(max(import_seq), 0) + 1 FROM annotations").fetchone()[0]
            added = con.execute(
                """
                INSERT INTO annotations
                WITH changed_since_latest AS (
                    SELECT candidates.*
                    FROM review_candidates AS candidates
                    LEFT JOIN annotations_latest AS latest ON latest.exception_id = candidates.exception_id
                    WHERE (latest.exception_id IS NULL
                           AND NOT (candidates.review_status = 'UNREVIEWED' AND candidates.review_note IS NULL))
                       OR latest.review_status IS DISTINCT FROM candidates.review_status
                       OR latest.review_note IS DISTINCT FROM candidates.review_note
                )
                SELECT
                    exception_id, review_status, review_note, $now AS annotated_at, $source_file AS source_file,
                    CASE WHEN review_status IN ('FALSE_POSITIVE', 'ACCEPTED_RISK')
                         THEN CAST($now AS DATE) + $expiry_days END AS expires_on,
                    $import_seq AS import_seq
                FROM changed_since_latest
                RETURNING review_status
                """,
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


# --------------------------------------------------------------------------------------------
# Files: permissions
# --------------------------------------------------------------------------------------------

def _temp_path(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(name)


def _publish(temp: Path, final: Path) -> None:
    os.chmod(temp, FILE_MODE)
    os.replace(temp, final)


# --------------------------------------------------------------------------------------------
# exceptions.csv / exceptions.xlsx / agency folders
# --------------------------------------------------------------------------------------------

_SEVERITY_ORDER = "CASE severity WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 3 ELSE 4 END"


def _listed_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    cursor = con.execute(
        f"""
        SELECT *
        FROM exceptions_listed
        WHERE run_id = $run_id
        ORDER BY check_id, {_SEVERITY_ORDER}, agency, person_id NULLS LAST, entity_type, entity_id, exception_id
        """,
        {"run_id": run_id},
    )
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _neutralise_formula(text):
    """Spreadsheet programs run a cell starting with = + - @ as a formula: keep it text."""
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return _neutralise_formula(str(value))


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    temp = _temp_path(path)
    with open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
    _publish(temp, path)


def sheet_name_for(check_id: str) -> str:
    """The check's sheet name: the id itself, or (over Excel's 31 characters) a stable shortening."""
    if len(check_id) <= SHEET_NAME_LIMIT:
        return check_id
    digest = hashlib.sha1(check_id.encode()).hexdigest()[:4]
    return f"{check_id[:SHEET_NAME_LIMIT - 5]}~{digest}"


def _last_review_text(row: dict) -> str | None:
    if row.get("last_review_status") is None:
        return None
    text = f"{row['last_review_status']} on {row['last_annotated_at'].date().isoformat()}"
    if row.get("review_expires_on") is not None:
        verb = "expired" if row.get("review_expired") else "expires"
        text += f", {verb} {row['review_expires_on'].isoformat()}"
    return text


def _sheet_columns(for_agency: str | None) -> tuple[str, ...]:
    columns = list(_agency_columns(for_agency) if for_agency else CSV_COLUMNS)
    return (*columns, "evaluated_as_at", "last_review", EXPORTED_STATUS_COLUMN, EXPORTED_NOTE_COLUMN)


def _agency_columns(agency: str) -> tuple[str, ...]:
    """An agency's own file: no owner column (it is all theirs); the LA child id only for the
    LA's own services, every other agency gets its own record ids for the child."""
    id_column = "person_id" if agency in LA_CHILD_ID_AGENCIES else "agency_record_ids"
    return tuple(
        id_column if c == "person_id" else c for c in CSV_COLUMNS if c != "agency"
    )


_WIDTHS = {
    "exception_id": 18, "check_id": 30, "concern": 40, "severity": 9, "person_id": 14,
    "agency_record_ids": 20, "agency": 16, "entity_type": 16, "entity_id": 22, "detail": 90,
    "locator": 40, "first_seen": 11, "status": 8, "review_status": 20, "review_note": 40,
    "as_at": 11, "evaluated_as_at": 15, "last_review": 34,
}


def _write_workbook(
    path: Path,
    rows: list[dict],
    summary: dict,
    for_agency: str | None,
) -> None:
    import xlsxwriter

    temp = _temp_path(path)
    columns = _sheet_columns(for_agency)
    workbook = xlsxwriter.Workbook(str(temp), {"strings_to_formulas": False, "strings_to_urls": False})
    fmt_header = workbook.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1, "text_wrap": True, "valign": "top"})
    fmt_editable_header = workbook.add_format({"bold": True, "bg_color": "#FFE699", "border": 1, "text_wrap": True, "valign": "top"})
    fmt_editable = workbook.add_format({"bg_color": "#FFF7D6", "locked": False})
    fmt_date = workbook.add_format({"num_format": "yyyy-mm-dd"})
    fmt_marked = workbook.add_format({"font_color": "#7F7F7F", "italic": True})
    fmt_title = workbook.add_format({"bold": True, "font_size": 14})
    fmt_bold = workbook.add_format({"bold": True})
    fmt_link = workbook.add_format({"font_color": "blue", "underline": 1})

    _write_summary_sheet(workbook, summary, rows, for_agency, fmt_title, fmt_bold, fmt_header, fmt_link)

    by_check: dict[str, list[dict]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    status_col = columns.index("review_status")
    status_letter = _column_letter(status_col)
    for check_id in sorted(by_check):
        sheet = workbook.add_worksheet(sheet_name_for(check_id))
        check_rows = by_check[check_id]
        for col, name in enumerate(columns):
            editable = name in ("review_status", "review_note")
            sheet.write_string(0, col, name, fmt_editable_header if editable else fmt_header)
            hidden = name in (EXPORTED_STATUS_COLUMN, EXPORTED_NOTE_COLUMN)
            sheet.set_column(col, col, _WIDTHS.get(name, 14), fmt_editable if editable else None, {"hidden": hidden})
        for r, row in enumerate(check_rows, start=1):
            values = {
                **row,
                "last_review": _last_review_text(row),
                EXPORTED_STATUS_COLUMN: row["review_status"],
                EXPORTED_NOTE_COLUMN: row["review_note"],
            }
            for col, name in enumerate(columns):
                value = values.get(name)
                if name in ("review_status", "review_note"):
                    sheet.write_string(r, col, value or "", fmt_editable)
                elif isinstance(value, date):
                    sheet.write_datetime(r, col, datetime.combine(value, datetime.min.time()), fmt_date)
                elif value is not None:
                    sheet.write_string(r, col, str(value))
        last_row = len(check_rows)
        sheet.freeze_panes(1, 1)
        sheet.autofilter(0, 0, last_row, len(columns) - 1)
        sheet.data_validation(
            1, status_col, max(last_row, 1), status_col,
            {
                "validate": "list",
                "source": list(REVIEW_STATUSES),
                "error_title": "Review status",
                "error_message": "Choose one of: " + ", ".join(REVIEW_STATUSES),
            },
        )
        # FALSE_POSITIVE / ACCEPTED_RISK stay listed, greyed, until the review expires.
        sheet.conditional_format(
            1, 0, max(last_row, 1), len(columns) - 1,
            {
                "type": "formula",
                "criteria": f'=OR(${status_letter}2="FALSE_POSITIVE",${status_letter}2="ACCEPTED_RISK")',
                "format": fmt_marked,
            },
        )

    meta = workbook.add_worksheet(META_SHEET)
    meta.write_row(0, 0, ["key", "value"])
    meta_rows = [
        ("format", WORKBOOK_FORMAT),
        ("run_id", summary["run_id"]),
        ("as_at", summary["as_at"].isoformat()),
        ("scope", for_agency or "ALL"),
    ]
    for r, (key, value) in enumerate(meta_rows, start=1):
        meta.write_string(r, 0, key)
        meta.write_string(r, 1, value)
    meta.hide()
    workbook.close()
    _publish(temp, path)


def _write_summary_sheet(workbook, summary, rows, for_agency, fmt_title, fmt_bold, fmt_header, fmt_link) -> None:
    sheet = workbook.add_worksheet(SUMMARY_SHEET)
    sheet.set_column(0, 0, 38)
    sheet.set_column(1, 8, 14)
    scope = f" for {for_agency}" if for_agency else ""
    sheet.write_string(0, 0, f"caseflags exceptions{scope}", fmt_title)
    info = [
        ("As at", summary["as_at"].isoformat()),
        ("Run", summary["run_id"]),
        ("Compared with run", summary["previous_run_id"] or "(first run)"),
    ]
    r = 2
    for label, value in info:
        sheet.write_string(r, 0, label, fmt_bold)
        sheet.write_string(r, 1, value)
        r += 1
    r += 1
    sheet.write_string(r, 0, "How to review", fmt_bold)
    r += 1
    for line in (
        "Each check has its own sheet. Set review_status from the drop-down and add a review_note;",
        "leave every other column as it is. Then return the file: caseflags review import FILE.xlsx",
        "FALSE_POSITIVE and ACCEPTED_RISK stay listed (greyed) until the review expires, then need a fresh look.",
        "Resolved exceptions are counted below; fix the record at source and it drops off the next run.",
    ):
        sheet.write_string(r, 0, line)
        r += 1
    r += 1

    counts = summary["counts_by_check"]
    if for_agency:  # the checks that concern this agency this run, and any not evaluated
        counts = [c for c in counts if c["listed"] or c["resolved"] or c["status"] != "EVALUATED"]
    headers = ["check", "concern", "check status", "NEW", "OPEN", "RESOLVED since last run", "listed", "sheet"]
    sheet.write_string(r, 0, "By check", fmt_bold)
    r += 1
    sheet.write_row(r, 0, headers, fmt_header)
    r += 1
    for c in counts:
        sheet.write_string(r, 0, c["check_id"])
        sheet.write_string(r, 1, c["concern"] or "")
        status = c["status"] if c["status"] == "EVALUATED" else f"{c['status']}: {c['reason'] or ''}"
        sheet.write_string(r, 2, status)
        sheet.write_number(r, 3, c["new"])
        sheet.write_number(r, 4, c["open"])
        sheet.write_number(r, 5, c["resolved"])
        sheet.write_number(r, 6, c["listed"])
        if c["listed"]:
            name = sheet_name_for(c["check_id"])
            sheet.write_url(r, 7, f"internal:'{name}'!A1", fmt_link, string=name)
        r += 1
    r += 1
    sheet.write_string(r, 0, "By agency", fmt_bold)
    r += 1
    sheet.write_row(r, 0, ["agency", "NEW", "OPEN", "RESOLVED since last run", "listed"], fmt_header)
    r += 1
    for a in summary["counts_by_agency"]:
        sheet.write_string(r, 0, a["agency"])
        sheet.write_row(r, 1, [a["new"], a["open"], a["resolved"], a["listed"]])
        r += 1
    sheet.activate()


def _run_summary(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date, agency: str | None = None) -> dict:
    """Counts by check and by agency for the run; with `agency`, that agency's rows only."""
    scope = {"run_id": run_id, "agency": agency}
    previous_run_id = con.execute(
        "SELECT previous_run_id FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchone()[0]
    cursor = con.execute(
        """
        WITH history AS (
            SELECT * FROM exception_history
            WHERE run_id = $run_id AND ($agency IS NULL OR agency = $agency)
        ),
        checks_seen AS (
            SELECT check_id FROM check_runs WHERE run_id = $run_id
            UNION SELECT check_id FROM history
        ),
        counts AS (
            SELECT
                check_id,
                any_value(concern) AS concern,
                count(*) FILTER (WHERE status = 'NEW') AS new,
                count(*) FILTER (WHERE status = 'OPEN') AS open,
                count(*) FILTER (WHERE status = 'RESOLVED') AS resolved,
                count(*) FILTER (WHERE status IN ('NEW', 'OPEN')) AS listed
            FROM history
            GROUP BY check_id
        )
        SELECT
            checks_seen.check_id,
            counts.concern,
            coalesce(check_runs.status, 'NOT_EVALUATED') AS status,
            CASE WHEN check_runs.check_id IS NULL THEN 'no check result recorded for this run'
                 ELSE check_runs.reason END AS reason,
            coalesce(counts.new, 0) AS new,
            coalesce(counts.open, 0) AS open,
            coalesce(counts.resolved, 0) AS resolved,
            coalesce(counts.listed, 0) AS listed
        FROM checks_seen
        LEFT JOIN check_runs ON check_runs.run_id = $run_id AND check_runs.check_id = checks_seen.check_id
        LEFT JOIN counts ON counts.check_id = checks_seen.check_id
        ORDER BY checks_seen.check_id
        """,
        scope,
    )
    columns = [c[0] for c in cursor.description]
    by_check = [dict(zip(columns, row)) for row in cursor.fetchall()]
    cursor = con.execute(
        """
        SELECT
            agency,
            count(*) FILTER (WHERE status = 'NEW') AS new,
            count(*) FILTER (WHERE status = 'OPEN') AS open,
            count(*) FILTER (WHERE status = 'RESOLVED') AS resolved,
            count(*) FILTER (WHERE status IN ('NEW', 'OPEN')) AS listed
        FROM exception_history
        WHERE run_id = $run_id AND ($agency IS NULL OR agency = $agency)
        GROUP BY agency
        ORDER BY agency
        """,
        scope,
    )
    columns = [c[0] for c in cursor.description]
    by_agency = [dict(zip(columns, row)) for row in cursor.fetchall()]
    totals = {k: sum(c[k] for c in by_check) for k in ("new", "open", "resolved", "listed")}
    return {
        "run_id": run_id,
        "as_at": as_at,
        "previous_run_id": previous_run_id,
        "counts_by_check": by_check,
        "counts_by_agency": by_agency,
        "totals": totals,
    }


def _agency_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[dict]]:
    """Each agency's listed rows, with its own record ids for the child, and any record id of
    another agency for the same child masked out of detail and locator."""
    cursor = con.execute(
        f"""
        WITH listed AS (
            SELECT *, list_contains($la_child_id_agencies, agency) AS uses_la_child_id
            FROM exceptions_listed WHERE run_id = $run_id
        ),
        owner_links AS (
            SELECT listed.exception_id, links.agency_record_id
            FROM listed
            JOIN person_links AS links ON links.person_id = listed.person_id AND links.agency = listed.agency
        ),
        own_record_ids AS (
            SELECT exception_id, string_agg(DISTINCT agency_record_id, '; ' ORDER BY agency_record_id) AS agency_record_ids
            FROM owner_links
            GROUP BY exception_id
        ),
        other_agency_links AS (
            SELECT listed.exception_id, links.agency_record_id AS record_id
            FROM listed
            JOIN person_links AS links ON links.person_id = listed.person_id AND links.agency <> listed.agency
            WHERE NOT (listed.uses_la_child_id AND links.agency_record_id = listed.person_id)
        ),
        other_agency_ids AS (
            -- the same child's record ids held by other agencies (and, for agencies outside the
            -- LA, the LA child id itself): never shown in this agency's files
            SELECT exception_id, record_id FROM other_agency_links
            ANTI JOIN owner_links
              ON owner_links.exception_id = other_agency_links.exception_id
             AND owner_links.agency_record_id = other_agency_links.record_id
            UNION
            SELECT exception_id, person_id
            FROM listed
            WHERE person_id IS NOT NULL AND NOT uses_la_child_id
        ),
        mask_patterns AS (
            SELECT exception_id,
                   '\\b(' || string_agg(regexp_escape(record_id), '|' ORDER BY length(record_id) DESC, record_id) || ')\\b' AS pattern
            FROM other_agency_ids
            WHERE record_id <> ''
            GROUP BY exception_id
        )
        SELECT
            listed.*,
            own_record_ids.agency_record_ids,
            CASE WHEN mask_patterns.pattern IS NULL THEN listed.detail
                 ELSE regexp_replace(listed.detail, mask_patterns.pattern, '[other agency record]', 'g') END AS masked_detail,
            CASE WHEN mask_patterns.pattern IS NULL THEN listed.locator
                 ELSE regexp_replace(listed.locator, mask_patterns.pattern, '[other agency record]', 'g') END AS masked_locator,
            CASE WHEN mask_patterns.pattern IS NULL THEN listed.entity_id
                 ELSE regexp_replace(listed.entity_id, mask_patterns.pattern, '[other agency record]', 'g') END AS masked_entity_id
        FROM listed
        LEFT JOIN own_record_ids ON own_record_ids.exception_id = listed.exception_id
        LEFT JOIN mask_patterns ON mask_patterns.exception_id = listed.exception_id
        ORDER BY listed.agency, listed.check_id, {_SEVERITY_ORDER}, listed.person_id NULLS LAST,
                 listed.entity_type, listed.entity_id, listed.exception_id
        """,
        {"run_id": run_id, "la_child_id_agencies": list(LA_CHILD_ID_AGENCIES)},
    )
    columns = [c[0] for c in cursor.description]
    by_agency: dict[str, list[dict]] = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        row["detail"] = row.pop("masked_detail")
        row["locator"] = row.pop("masked_locator")
        row["entity_id"] = row.pop("masked_entity_id")
        if not row.pop("uses_la_child_id"):
            row["person_id"] = None
        by_agency.setdefault(row["agency"], []).append(row)
    return by_agency


_AGENCY_FOLDER_PATTERN = re.compile(r"[^A-Za-z0-9_-]")


def agency_folder_name(agency: str) -> str:
    """A safe folder name for an agency code (codes come from data: no path separators)."""
    name = _AGENCY_FOLDER_PATTERN.sub("_", agency).strip("_.")
    return name or "UNKNOWN_AGENCY"


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
) -> RunOutputs:
    """Write the run's exception files and report into out_dir (the run's `<out>/<as-at>/`).

    Needs `update_lifecycle(con, run_id, as_at)` first. `agencies/` is rebuilt from scratch so
    an agency with nothing listed any more keeps no stale file. Every file is 0600 and every
    folder 0700, written to a temporary name and renamed into place.
    """
    from caseflags.outputs.report import render_report

    ensure_output_tables(con)
    known = con.execute("SELECT count(*) FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}).fetchone()[0]
    if not known:
        raise ValueError(f"run {run_id} has no exception lifecycle yet: call update_lifecycle first")
    out = Path(out_dir)
    with owner_only():
        private_dir(out)
        rows = _listed_rows(con, run_id)
        summary = _run_summary(con, run_id, as_at)

        csv_path = out / "exceptions.csv"
        _write_csv(csv_path, CSV_COLUMNS, rows)
        xlsx_path = out / "exceptions.xlsx"
        _write_workbook(xlsx_path, rows, summary, for_agency=None)

        agencies_dir = out / "agencies"
        if agencies_dir.is_symlink() or agencies_dir.is_file():
            agencies_dir.unlink()
        elif agencies_dir.exists():
            shutil.rmtree(agencies_dir)
        private_dir(agencies_dir)
        agency_files: dict[str, tuple[Path, Path]] = {}
        for agency, agency_rows in _agency_rows(con, run_id).items():
            folder = private_dir(agencies_dir / agency_folder_name(agency))
            columns = _agency_columns(agency)
            agency_csv = folder / "exceptions.csv"
            _write_csv(agency_csv, columns, agency_rows)
            agency_xlsx = folder / "exceptions.xlsx"
            _write_workbook(agency_xlsx, agency_rows, _run_summary(con, run_id, as_at, agency), for_agency=agency)
            agency_files[agency] = (agency_csv, agency_xlsx)

        report_path = out / "report.html"
        temp = _temp_path(report_path)
        temp.write_text(render_report(con, run_id, as_at, summary, rows, good_practice_rows), encoding="utf-8")
        _publish(temp, report_path)
    return RunOutputs(csv_path, xlsx_path, report_path, agency_files)

