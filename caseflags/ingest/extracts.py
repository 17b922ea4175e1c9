"""Reading a delivery: CSV / Parquet / XLSX extracts parsed into the typed contract tables.

Every delivered value is read as text first (`csv_reader.py`, `tabular.py`, after one streaming
`scan.py` pass that says what the file is), so nothing is silently coerced: a value that does
not parse under its column's contract type sends the whole row to quarantine with file, line,
column, reason and a bounded prefix of the raw line with its full length. A file the contract
does not know, one missing a required column, or one that cannot be read at all is refused
whole, by name, with the reason; the other extracts still load. Duplicate keys are resolved
row by row (`duplicates.py`).

The ledger: for every file, records read = rows loaded + rows quarantined, per table
(`ParsedExtract.ledger`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from caseflags.contracts.identifiers import (
    nhs_number_problem_expr,
    nhs_number_valid_expr,
    upn_problem_expr,
    upn_valid_expr,
)
from caseflags.contracts.schema import (
    LINKED_IDENTIFIER_TYPES,
    TABLE_AGENCY,
    ColumnSpec,
    TableSpec,
    load_contract,
)
from caseflags.digests import file_sha256
from caseflags.ingest.common import LINE, SOURCE, ExtractRefused, bounded, unused_columns
from caseflags.ingest.csv_reader import raw_lines as csv_raw_lines
from caseflags.ingest.csv_reader import read_csv_text
from caseflags.ingest.duplicates import resolve_duplicates
from caseflags.ingest.scan import (
    DEFAULT_LIMITS,
    KIND_REASONS,
    DecodedText,
    FileScan,
    IngestLimits,
    scan_file,
    utf16_bom,
)
from caseflags.ingest.tabular import joined_values, read_tabular_text

__all__ = [
    "LINE",
    "SOURCE",
    "ExtractRefused",
    "IngestLimits",
    "ParsedExtract",
    "parse_extract",
    "parse_source",
    "combine",
    "file_sha256",
    "scan_file",
]

EXTRACT_SUFFIXES = (".csv", ".parquet", ".xlsx")

# Columns whose unparseable value does not cost the row: the value loads as missing and the
# problem is a data-quality warning with the raw text (docs/LINKAGE.md). A partner's person index
# (`agency_records`) is linkage's input: a damaged DOB must not hide a child whose name and
# postcode would settle it. Children social care's own `ssd_person.pers_dob` stays required.
KEPT_WHEN_UNPARSEABLE = {("agency_records", "dob")}
WARNING_SCHEMA = {"file": pl.Utf8, "line": pl.Int64, "column_name": pl.Utf8, "reason": pl.Utf8, "raw_value": pl.Utf8}

FLAG_TRUE = {"Y", "YES", "1", "TRUE", "T"}  # T / F: PostgreSQL's booleans in `\\copy ... CSV`
FLAG_FALSE = {"N", "NO", "0", "FALSE", "F"}
# The literal SQL Server's tools write for a null (SSMS "Save Results As", sqlcmd): missing, in
# every column, and counted per column in the ledger (docs/EXTRACTS.md, "From the SSD").
NULL_LITERAL = "NULL"
# The SSD scripts' placeholder value (SystemC: `'SSD_PH'`): missing, never an invalid identifier.
PLACEHOLDER = "SSD_PH"
# Dates the case-management systems and the SSD scripts write for "no date": loaded as missing,
# each with a data-quality warning (SystemC fills a missing cina_assessment_auth_date with
# 1900-01-01; 1899-12-30 is Excel's day 0; 1753-01-01 SQL Server's first DATETIME).
SENTINEL_DATES = ("1900-01-01", "1899-12-30", "1753-01-01")
SENTINEL_REASON = "sentinel date (a placeholder for no date): loaded as missing"
# The sentinel dates as delivered (ISO or UK, with or without a time): one anchored regex, cheaper
# than parsing every date twice.
SENTINEL_TEXT = (
    "^(?:"
    + "|".join([d for iso in SENTINEL_DATES for d in (iso, "/".join(reversed(iso.split("-"))))])
    + r")(?:[ T][0-9:.]*)?$"
)


def sentinel_warnings(file: str, frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """One data-quality warning per sentinel date loaded as missing."""
    frames = []
    for col in spec.columns:
        if col.kind != "date" or col.name not in frame.columns:
            continue
        text = _blank_to_null(pl.col(col.name))
        hit = (
            frame.lazy()
            .filter(text.str.contains(SENTINEL_TEXT))
            .select(
                pl.lit(file).alias("file"),
                pl.col(LINE).alias("line"),
                pl.lit(col.name).alias("column_name"),
                pl.lit(SENTINEL_REASON).alias("reason"),
                pl.col(col.name).str.strip_chars().alias("raw_value"),
            )
            .collect()
        )
        if hit.height:
            frames.append(hit)
    return pl.concat(frames).cast(WARNING_SCHEMA) if frames else pl.DataFrame(schema=WARNING_SCHEMA)


@dataclass
class ParsedExtract:
    table: str
    file: str
    content_sha256: str
    rows_read: int
    data: pl.DataFrame  # typed contract columns plus `_line` (and `_source` when combined): rows that passed
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA
    identifier_issues: pl.DataFrame
    reads: dict[str, int] = field(default_factory=dict)  # records read, per source file
    rejected: dict[str, int] = field(default_factory=dict)  # records quarantined, per source file
    notes: list[str] = field(default_factory=list)
    # Rows loaded with a value set missing (KEPT_WHEN_UNPARSEABLE): file, line, column_name, reason, raw_value
    warnings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=WARNING_SCHEMA))
    # Records merged into another source's row of the same record (caseflags.ingest.merge_people):
    # loaded, as part of that row, so they count as loaded for their own file.
    merged: dict[str, int] = field(default_factory=dict)
    # Values loaded as missing because they were SQL Server's NULL literal or the SSD placeholder:
    # {"NULL": {column: count}, "SSD_PH": {...}} (run.json ledger, docs/EXTRACTS.md)
    missing_literals: dict[str, dict[str, int]] = field(default_factory=dict)
    unused_columns: list[str] = field(default_factory=list)  # delivered columns caseflags does not read
    worker_names: dict[str, int] = field(default_factory=dict)  # worker id columns holding names: count per column
    delivered_columns: list[str] = field(default_factory=list)  # the delivered header, as named

    @property
    def rows_loaded(self) -> int:
        return self.data.height

    @property
    def rows_quarantined(self) -> int:
        return sum(self.rejected.values())

    def rows(self) -> pl.DataFrame:
        """The contract columns only, as staged."""
        return self.data.drop(LINE, SOURCE, strict=False)

    def ledger(self) -> list[dict]:
        """Per source file: records read, loaded, quarantined, and whether they balance."""
        if SOURCE in self.data.columns:  # several sources (a CSV and a return): rows say which
            loaded = dict(self.data.group_by(SOURCE).len().iter_rows()) if self.data.height else {}
        else:
            loaded = {self.file: self.data.height}
        entries = []
        for source, read in self.reads.items():
            entry = {
                "file": source,
                "table": self.table,
                "read": read,
                "loaded": loaded.get(source, 0) + self.merged.get(source, 0),
                "quarantined": self.rejected.get(source, 0),
            }
            if self.merged.get(source):
                entry["merged"] = self.merged[source]
            entry["balanced"] = entry["read"] == entry["loaded"] + entry["quarantined"]
            entries.append(entry)
        return entries


QUARANTINE_SCHEMA = {
    "file": pl.Utf8,
    "line": pl.Int64,
    "column_name": pl.Utf8,
    "reason": pl.Utf8,
    "raw_line": pl.Utf8,  # a prefix of at most [ingest] raw_line_prefix characters
    "raw_length": pl.Int64,  # the full length of the raw line, in characters
}
IDENTIFIER_ISSUE_SCHEMA = {
    "table_name": pl.Utf8,
    "file": pl.Utf8,
    "line": pl.Int64,
    "column_name": pl.Utf8,
    "identifier_type": pl.Utf8,
    "agency": pl.Utf8,
    "person_id": pl.Utf8,
    "record_key": pl.Utf8,
    "reason": pl.Utf8,
}


# --- reading files as text ------------------------------------------------------------------


def read_text_frame(
    path: Path,
    spec: TableSpec,
    scan: FileScan | None = None,
    limits: IngestLimits = DEFAULT_LIMITS,
    header_out: list[str] | None = None,
) -> tuple[pl.DataFrame, list[dict], dict[int, str] | None]:
    """All contract columns as text plus `_line`; the records unreadable as records; and for
    Parquet / XLSX the delivered values of those records (CSV raw lines are read back later)."""
    file = path.name
    scan = scan or scan_file(path)
    suffix = path.suffix.lower()
    expected = {".csv": ("text",), ".parquet": ("parquet",), ".xlsx": ("zip",)}.get(suffix)
    if expected is None:
        raise ExtractRefused(file, "unsupported file type")
    if scan.kind not in expected:
        reason = KIND_REASONS.get(scan.kind, "not a file of its kind")
        if suffix != ".csv" and scan.kind in ("text", "blank"):
            reason = f"text, not a {suffix[1:].upper()} file"
        raise ExtractRefused(file, reason)
    if suffix == ".csv":
        frame, unreadable = read_csv_text(path, scan, spec, limits, header_out=header_out)
        return frame, unreadable, None
    return read_tabular_text(path, spec, limits, header_out=header_out)


# --- parsing text into contract types --------------------------------------------------------


def _blank_to_null(expr: pl.Expr, literals: bool = True) -> pl.Expr:
    """Blank is missing; with `literals`, so are SQL Server's `NULL` literal and the SSD's `SSD_PH`
    placeholder. NCHAR padding and sqlcmd's column padding are stripped."""
    stripped = expr.str.strip_chars()
    if literals:
        return pl.when(stripped.is_in(["", NULL_LITERAL, PLACEHOLDER])).then(None).otherwise(stripped)
    return pl.when(stripped == "").then(None).otherwise(stripped)


def missing_literal_counts(frame: pl.DataFrame, spec: TableSpec) -> dict[str, dict[str, int]]:
    """Per column, how many values were the `NULL` literal or the `SSD_PH` placeholder (loaded as
    missing): {"NULL": {column: n}, "SSD_PH": {column: n}}, zero counts left out. Exact values
    are counted in one cheap pass; only columns holding padding are stripped first."""
    columns = [c for c in spec.column_names if c in frame.columns and frame.schema[c] == pl.Utf8]
    if not columns or not frame.height:
        return {}
    padded = (
        frame.lazy()
        .select([(pl.col(c).str.ends_with(" ") | pl.col(c).str.starts_with(" ")).any().alias(c) for c in columns])
        .collect()
        .row(0, named=True)
    )
    exprs = []
    for literal in (NULL_LITERAL, PLACEHOLDER):
        for c in columns:
            value = pl.col(c).str.strip_chars() if padded[c] else pl.col(c)
            exprs.append((value == literal).sum().alias(f"{literal}\x00{c}"))
    counts = frame.lazy().select(exprs).collect().row(0, named=True)
    found: dict[str, dict[str, int]] = {}
    for key, n in counts.items():
        if n:
            literal, column = key.split("\x00")
            found.setdefault(literal, {})[column] = int(n)
    return found


def _strip_excel_decimal(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(r"^(\d+)\.0+$", "${1}")


def _parse_date(expr: pl.Expr) -> pl.Expr:
    # A trailing time (" 09:30", " 09:30:00", ISO "T09:30:00") is dropped by contract.
    day = expr.str.replace(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$", "")
    return pl.coalesce(
        day.str.to_date("%Y-%m-%d", strict=False),
        day.str.to_date("%d/%m/%Y", strict=False),
    )


def _parse_flag(expr: pl.Expr) -> pl.Expr:
    upper = expr.str.to_uppercase()
    return (
        pl.when(upper.is_in(list(FLAG_TRUE))).then(True).when(upper.is_in(list(FLAG_FALSE))).then(False).otherwise(None)
    )


def _parse_code_list(value: str | None) -> list[str] | None:
    """Assessment factors: a JSON array or a comma-separated list of census factor codes."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("[") or text.startswith("{"):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(items, dict):  # SystemC's key-value form {"1B": "Yes", ...}: the factors present
            items = [k for k, v in items.items() if v not in (None, False, "", "No", "N", "no", "n")]
        # Eclipse's JSON_BUILD_ARRAY writes null for each absent factor.
        if not isinstance(items, list) or not all(isinstance(i, (str, int)) or i is None for i in items):
            return None
        items = [i for i in items if i is not None]
    else:
        items = text.split(",")
    codes = [str(i).strip().upper() for i in items if str(i).strip()]
    if not all(_FACTOR_CODE(c) for c in codes):
        return None
    return codes


def _FACTOR_CODE(code: str) -> bool:
    return 1 <= len(code) <= 3 and code[0].isdigit() and (code[-1].isalnum())


ROLE_COLUMNS = {"invo_professional_role_id"}
# Worker columns that should hold a professional's id; SystemC's SSD script writes the worker's
# name in cine_referral_worker_id (DIM_WORKER_ID_DESC). A name is recognised (letters and
# spaces, two words or more), loaded as missing and counted in the ledger ("worker_names").
WORKER_ID_COLUMNS = {"ssd_cin_episodes": ("cine_referral_worker_id",)}
WORKER_NAME = r"^[^\d\s,;]+(?:[ \t]+[^\d\s,;]+)+$"


def worker_names(table: str, typed: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Names in a worker id column: counted, and set missing (a name is not an id)."""
    counts: dict[str, int] = {}
    for column in WORKER_ID_COLUMNS.get(table, ()):
        if column not in typed.columns:
            continue
        is_name = pl.col(column).str.contains(WORKER_NAME)
        n = typed.select(is_name.sum()).item()
        if n:
            counts[column] = int(n)
            typed = typed.with_columns(pl.when(is_name).then(None).otherwise(pl.col(column)).alias(column))
    return typed, counts


def parse_frame(
    frame: pl.DataFrame,
    spec: TableSpec,
    agency_aliases: dict[str, str] | None = None,
    role_codes: dict[str, str] | None = None,
    literal_columns: set[str] | None = None,
    sentinel_columns: set[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed columns for every row, and the problems found: (line, column_name, reason).
    `literal_columns`: the columns holding a `NULL` / `SSD_PH` literal (None: treat every column
    as if it might); `sentinel_columns` likewise for sentinel dates."""
    aliases = {k.strip().upper(): v for k, v in (agency_aliases or {}).items()}
    roles = {k.strip().upper(): v for k, v in (role_codes or {}).items()}
    typed: list[pl.Expr] = [pl.col(LINE)]
    presence: list[pl.Expr] = []
    problems: list[pl.Expr] = []
    for col in spec.columns:
        text = _blank_to_null(pl.col(col.name), literal_columns is None or col.name in literal_columns)
        if col.kind == "date" and (sentinel_columns is None or col.name in sentinel_columns):
            # a sentinel date is no date (a warning says so: sentinel_warnings)
            text = pl.when(text.str.contains(SENTINEL_TEXT)).then(None).otherwise(text)
        parsed, failure_reason = _parse_column(col, text, aliases)
        if col.name in ROLE_COLUMNS and roles:
            upper = text.str.to_uppercase()
            parsed = pl.when(upper.is_in(list(roles))).then(upper.replace(roles)).otherwise(parsed)
        typed.append(parsed.alias(col.name))
        if not col.required and failure_reason is None:
            continue  # nothing about this column can reject a row
        present = pl.col(f"{col.name}\x00present")
        presence.append(text.is_not_null().alias(f"{col.name}\x00present"))
        if col.required:
            problems.append(
                pl.when(~present).then(pl.lit("blank required value")).otherwise(None).alias(f"{col.name}\x00blank")
            )
        if failure_reason is not None:
            # Parsed once: a value present in the text but null once typed did not parse.
            problems.append(
                pl.when(present & pl.col(col.name).is_null())
                .then(pl.lit(failure_reason))
                .otherwise(None)
                .alias(f"{col.name}\x00bad")
            )
    # Lazy, so polars evaluates each column's shared sub-expressions once and in parallel.
    typed_frame = frame.lazy().select(typed).collect()
    no_problems = pl.DataFrame(schema={LINE: pl.Int64, "column_name": pl.Utf8, "reason": pl.Utf8})
    if not problems:
        return typed_frame, no_problems
    judged = pl.concat([typed_frame, frame.lazy().select(presence).collect()], how="horizontal")
    flagged = (
        judged.lazy()
        .select([pl.col(LINE), *problems])
        .filter(pl.any_horizontal([pl.col(p.meta.output_name()).is_not_null() for p in problems]))
        .collect()
    )
    if not flagged.height:
        return typed_frame, no_problems
    long = (
        flagged.unpivot(index=LINE, variable_name="column_name", value_name="reason")
        .drop_nulls("reason")
        .with_columns(pl.col("column_name").str.split("\x00").list.first())
        .sort([LINE, "column_name"])
    )
    return typed_frame, long


def _parse_column(col: ColumnSpec, text: pl.Expr, aliases: dict[str, str]) -> tuple[pl.Expr, str | None]:
    if col.kind == "date":
        return _parse_date(text), "unparseable date (expected YYYY-MM-DD or DD/MM/YYYY)"
    if col.kind == "flag":
        return _parse_flag(text), "unrecognised flag (expected Y/N, Yes/No, 1/0, True/False)"
    if col.kind == "integer":
        return _strip_excel_decimal(text).cast(pl.Int32, strict=False), "not a whole number"
    if col.kind == "code":
        value = text.str.to_uppercase()
        if "SOCIAL_CARE" in col.codes and aliases:
            value = value.replace(aliases)
        return pl.when(value.is_in(list(col.codes))).then(value).otherwise(None), "unknown code"
    if col.kind == "code_list":
        parsed = text.map_elements(_parse_code_list, return_dtype=pl.List(pl.Utf8))
        return parsed, "unparseable factor list (expected a JSON array or comma-separated codes)"
    if col.kind in ("nhs_number", "upn", "id"):
        if col.kind == "nhs_number":
            parsed = _strip_excel_decimal(text).str.replace_all(r"[\s-]", "")
        elif col.kind == "upn":
            parsed = text.str.to_uppercase().str.replace_all(" ", "", literal=True)
        else:
            parsed = _strip_excel_decimal(text)
        # A line break, tab or NUL inside an identifier is damage (a quote gone astray), not data.
        damaged = text.str.contains(r"[\x00-\x1f\x7f]")
        return pl.when(damaged).then(None).otherwise(
            parsed
        ), "control character (line break, tab, NUL) in an identifier"
    return text, None


# --- identifiers -------------------------------------------------------------------------


def find_identifier_issues(table: str, file: str, data: pl.DataFrame) -> pl.DataFrame:
    """Invalid NHS numbers and UPNs among the loaded rows: reported, kept out of linkage."""
    from caseflags.contracts.schema import NHS_NUMBER_COLUMNS, UPN_COLUMNS

    checks: list[tuple[str, str, pl.Expr]] = []
    for t, c in sorted(NHS_NUMBER_COLUMNS):
        if t == table:
            checks.append((c, "NHS_NUMBER", pl.col(c)))
    for t, c in sorted(UPN_COLUMNS):
        if t == table:
            checks.append((c, "UPN", pl.col(c)))
    frames = []
    for column, id_type, _expr in checks:
        frames.append(_invalid_rows(table, file, data, column, id_type, None))
    if table == "ssd_linked_identifiers" and data.height:
        kind = (
            pl.col("link_identifier_type")
            .str.strip_chars()
            .str.to_lowercase()
            .replace_strict(LINKED_IDENTIFIER_TYPES, default=None)
        )
        typed = data.with_columns(kind.alias("_id_type"))
        for id_type in ("NHS_NUMBER", "UPN"):
            subset = typed.filter(pl.col("_id_type") == id_type)
            frames.append(_invalid_rows(table, file, subset, "link_identifier_value", id_type, None))
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=IDENTIFIER_ISSUE_SCHEMA)
    return pl.concat(frames).select(list(IDENTIFIER_ISSUE_SCHEMA))


_PERSON_COLUMN = {"ssd_person": "pers_person_id", "ssd_linked_identifiers": "link_person_id"}
_RECORD_KEY = {
    "ssd_person": "pers_person_id",
    "agency_records": "agency_record_id",
    "ehcp_plans": "ehcp_id",
    "ssd_linked_identifiers": "link_person_id",
}


def _invalid_rows(table: str, file: str, data: pl.DataFrame, column: str, id_type: str, _unused) -> pl.DataFrame:
    # Validated once per distinct value: 12 million attendance sessions hold a few thousand UPNs.
    valid = nhs_number_valid_expr(pl.col(column)) if id_type == "NHS_NUMBER" else upn_valid_expr(pl.col(column))
    distinct = data.lazy().select(pl.col(column).drop_nulls().unique()).collect()
    invalid = distinct.filter(~valid).get_column(column)
    if not invalid.len():
        return pl.DataFrame(schema=IDENTIFIER_ISSUE_SCHEMA)
    rows = data.filter(pl.col(column).is_in(invalid.implode()))
    if table == "attendance_sessions":
        # One issue per pupil, not per session: its first line locates it.
        rows = rows.sort(LINE).unique(subset=[column], keep="first", maintain_order=True)
    agency = (
        pl.col("agency").cast(pl.Utf8) if table == "agency_records" else pl.lit(TABLE_AGENCY.get(table, "SOCIAL_CARE"))
    )
    person = pl.col(_PERSON_COLUMN[table]) if table in _PERSON_COLUMN else pl.lit(None, pl.Utf8)
    key = pl.col(_RECORD_KEY[table]) if table in _RECORD_KEY else pl.lit(None, pl.Utf8)
    # The most basic reason first: a 14-character UPN is the wrong length, not a wrong letter.
    label = nhs_number_problem_expr(pl.col(column)) if id_type == "NHS_NUMBER" else upn_problem_expr(pl.col(column))
    return rows.select(
        pl.lit(table).alias("table_name"),
        pl.lit(file).alias("file"),
        pl.col(LINE).alias("line"),
        pl.lit(column).alias("column_name"),
        pl.lit(id_type).alias("identifier_type"),
        agency.alias("agency"),
        person.cast(pl.Utf8).alias("person_id"),
        key.cast(pl.Utf8).alias("record_key"),
        label.alias("reason"),
    )


# --- one extract, end to end --------------------------------------------------------------


def parse_extract(
    path: Path,
    table: str,
    agency_aliases: dict[str, str] | None = None,
    content_sha256: str | None = None,
    *,
    scan: FileScan | None = None,
    limits: IngestLimits = DEFAULT_LIMITS,
    role_codes: dict[str, str] | None = None,
) -> ParsedExtract:
    """Read and parse one file (streamed; `scan` when its scan is already done); raises
    ExtractRefused for a file that cannot be loaded at all."""
    spec = load_contract()[table]
    scan = scan or scan_file(path)
    content_sha256 = content_sha256 or scan.sha256
    if path.suffix.lower() == ".csv" and scan.kind == "utf16":
        path, scan = _decoded_utf16(path, scan)
    header: list[str] = []
    frame, unreadable, faulty = read_text_frame(path, spec, scan, limits, header_out=header)
    if faulty is not None:  # Parquet / XLSX: raw lines are the delivered values, comma-joined

        def raw_for(wanted: set[int]) -> dict[int, str]:
            found = dict(faulty)
            missing = wanted - set(found)
            if missing:
                found.update(joined_values(frame.filter(pl.col(LINE).is_in(list(missing)))))
            return found
    else:

        def raw_for(wanted: set[int]):
            return csv_raw_lines(path, scan, wanted, limits)

    parsed = parse_source(
        table,
        path,
        frame,
        unreadable,
        agency_aliases,
        content_sha256=content_sha256,
        raw_for=raw_for,
        limits=limits,
        role_codes=role_codes,
    )
    parsed.unused_columns = unused_columns(header, spec)
    parsed.delivered_columns = [str(c).strip().lstrip("\ufeff").strip() for c in header]
    return parsed


def _decoded_utf16(path: Path, scan: FileScan):
    """SSMS's "Unicode" CSV (UTF-16 with its byte-order mark), decoded and scanned as UTF-8;
    UTF-16 without a byte-order mark stays refused (scan.KIND_REASONS)."""
    with path.open("rb") as handle:
        codec = utf16_bom(handle.read(2))
    if codec is None:
        return path, scan
    try:
        decoded = DecodedText(path, codec)
    except UnicodeDecodeError:
        raise ExtractRefused(path.name, "not valid UTF-16 text after its byte-order mark") from None
    return decoded, scan_file(decoded)


def parse_source(
    table: str,
    path: Path,
    frame: pl.DataFrame,
    unreadable: list[dict],
    agency_aliases: dict[str, str] | None = None,
    *,
    text: str | bytes | None = None,
    content_sha256: str | None = None,
    raw_lines: dict[int, str] | None = None,
    raw_for=None,
    limits: IngestLimits = DEFAULT_LIMITS,
    role_codes: dict[str, str] | None = None,
) -> ParsedExtract:
    """Type a text frame (contract columns + `_line`) from any source (file, national return):
    quarantine what does not parse, then duplicate keys; `unreadable` are records the reader
    could not read at all (line, column_name, reason, optional record: the record's own line). Raw lines come from `raw_for(lines)`
    (a reader's), or `raw_lines` (a return's own description of its records)."""
    spec = load_contract()[table]
    file = path.name
    literals = missing_literal_counts(frame, spec)
    sentinels = sentinel_warnings(file, frame, spec)
    typed, problems = parse_frame(
        frame,
        spec,
        agency_aliases,
        role_codes,
        literal_columns={c for counts in literals.values() for c in counts},
        sentinel_columns=set(sentinels.get_column("column_name").to_list()),
    )
    problems = _needs_one_of(table, typed, problems)
    typed, names = worker_names(table, typed)
    problems, warnings = _kept_problems(table, path, frame, problems)
    if sentinels.height:
        warnings = pl.concat([warnings, sentinels])
    bad_lines = set(problems.get_column(LINE).to_list()) if problems.height else set()
    good = typed.filter(~pl.col(LINE).is_in(list(bad_lines))) if bad_lines else typed
    # A record unreadable as a record counts once, however many problems it has; an entry whose
    # "record" is None (text between a return's records) is listed but is no record.
    unreadable_records = {u.get("record", u["line"]) for u in unreadable} - {None}
    good, duplicates = resolve_duplicates(table, good, spec.column_names, source=file)
    rows = (
        [
            {"line": line, "column_name": column, "reason": reason}
            for line, column, reason in problems.select(LINE, "column_name", "reason").iter_rows()
        ]
        + [{"line": u["line"], "column_name": u.get("column_name"), "reason": u["reason"]} for u in unreadable]
        + [
            {"line": line, "column_name": None, "reason": reason}
            for line, reason in duplicates.select("line", "reason").iter_rows()
        ]
    )
    wanted = {r["line"] for r in rows}
    if raw_lines is not None:
        raw = {line: raw_lines.get(line) for line in wanted}
    elif raw_for is not None:
        raw = raw_for(wanted) if wanted else {}
    else:
        raw = joined_values(frame.filter(pl.col(LINE).is_in(list(wanted)))) if wanted else {}
    read = frame.height + len(unreadable_records)
    return ParsedExtract(
        table=table,
        file=file,
        content_sha256=content_sha256 or "",
        rows_read=read,
        data=good.sort(LINE),
        quarantine=_quarantine_frame(file, rows, raw, limits),
        identifier_issues=find_identifier_issues(table, file, good),
        reads={file: read},
        rejected={file: read - good.height},
        warnings=warnings,
        missing_literals=literals,
        worker_names=names,
    )


# A row needs one of these columns (an unborn child has an expected date of birth, no date of birth).
ONE_OF_REQUIRED = {"ssd_person": ("pers_dob", "pers_expected_dob")}


def _needs_one_of(table: str, typed: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    columns = ONE_OF_REQUIRED.get(table)
    if not columns or not all(c in typed.columns for c in columns):
        return problems
    lacking = typed.filter(pl.all_horizontal([pl.col(c).is_null() for c in columns])).select(
        pl.col(LINE),
        pl.lit(columns[0]).alias("column_name"),
        pl.lit(f"blank required value: neither {' nor '.join(columns)}").alias("reason"),
    )
    if problems.height:  # a date given but unparseable is that date's problem, not this one
        lacking = lacking.join(
            problems.filter(pl.col("column_name").is_in(list(columns))).select(LINE), on=LINE, how="anti"
        )
    if not lacking.height:
        return problems
    return pl.concat([problems, lacking.cast(problems.schema)]).sort([LINE, "column_name"])


def _kept_problems(table: str, path: Path, frame: pl.DataFrame, problems: pl.DataFrame):
    """Split off the problems that keep their row (KEPT_WHEN_UNPARSEABLE) as warnings."""
    kept_columns = [column for t, column in KEPT_WHEN_UNPARSEABLE if t == table]
    if not problems.height or not kept_columns:
        return problems, pl.DataFrame(schema=WARNING_SCHEMA)
    is_kept = pl.col("column_name").is_in(kept_columns) & (pl.col("reason") != "blank required value")
    kept = problems.filter(is_kept)
    if not kept.height:
        return problems, pl.DataFrame(schema=WARNING_SCHEMA)
    raw = frame.select(pl.col(LINE), *[pl.col(c).cast(pl.Utf8) for c in kept_columns]).unpivot(
        index=LINE, variable_name="column_name", value_name="raw_value"
    )
    warnings = kept.join(raw, on=[LINE, "column_name"], how="left").select(
        pl.lit(path.name).alias("file"), pl.col(LINE).alias("line"), "column_name", "reason", "raw_value"
    )
    return problems.filter(~is_kept), warnings.cast(WARNING_SCHEMA)


def rejected_by_source(parts: list[ParsedExtract]) -> dict[str, int]:
    """Rows quarantined per source file, over every part of one table."""
    rejected: dict[str, int] = {}
    for p in parts:
        for source, count in p.rejected.items():
            rejected[source] = rejected.get(source, 0) + count
    return rejected


def combine(parts: list[ParsedExtract], limits: IngestLimits = DEFAULT_LIMITS) -> ParsedExtract:
    """One table delivered by several sources (a CSV beside a national return): a key clash
    between sources is a duplicate like any other (`duplicates.py`), each source named."""
    if len(parts) == 1:
        return parts[0]
    table = parts[0].table
    spec = load_contract()[table]
    data = pl.concat(
        [p.data if SOURCE in p.data.columns else p.data.with_columns(pl.lit(p.file).alias(SOURCE)) for p in parts]
    )
    kept, clashes = resolve_duplicates(table, data, spec.column_names)
    quarantine = [p.quarantine for p in parts]
    rejected = rejected_by_source(parts)
    issues = pl.concat([p.identifier_issues for p in parts])
    if clashes.height:
        values = data.join(clashes.select(pl.col("file").alias(SOURCE), pl.col("line").alias(LINE)), on=[SOURCE, LINE])
        raw = {
            (r[SOURCE], r[LINE]): ",".join("" if r[c] is None else str(r[c]) for c in spec.column_names)
            for r in values.iter_rows(named=True)
        }
        for source, group in clashes.group_by("file"):
            rows = group.select("line", "column_name", "reason").to_dicts()
            quarantine.append(
                _quarantine_frame(source[0], rows, {r["line"]: raw.get((source[0], r["line"])) for r in rows}, limits)
            )
            rejected[source[0]] = rejected.get(source[0], 0) + group.height
        issues = issues.join(clashes.select("file", "line"), on=["file", "line"], how="anti")
    return ParsedExtract(
        table=table,
        file=" + ".join(p.file for p in parts),
        content_sha256=hashlib.sha256(":".join(p.content_sha256 for p in parts).encode()).hexdigest(),
        rows_read=sum(p.rows_read for p in parts),
        data=kept,
        quarantine=pl.concat(quarantine),
        identifier_issues=issues,
        reads={k: v for p in parts for k, v in p.reads.items()},
        rejected=rejected,
        warnings=pl.concat([p.warnings for p in parts]),
    )


def _quarantine_frame(file: str, rows: list[dict], raw: dict, limits: IngestLimits) -> pl.DataFrame:
    """Quarantine rows with a bounded prefix of each raw line and its full length."""
    if not rows:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    records = []
    for r in sorted(rows, key=lambda r: (r["line"], r["column_name"] or "")):
        found = raw.get(r["line"])
        text, length = found if isinstance(found, tuple) else (found, None if found is None else len(found))
        records.append(
            {
                "file": file,
                "line": r["line"],
                "column_name": r["column_name"],
                "reason": r["reason"],
                "raw_line": bounded(text, limits.raw_line_prefix),
                "raw_length": length,
            }
        )
    return pl.DataFrame(records, schema=QUARANTINE_SCHEMA)
