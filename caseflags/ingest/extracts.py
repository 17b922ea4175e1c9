"""Reading a delivery: CSV / Parquet / XLSX extracts parsed into the typed contract tables.

Every delivered value is read as text first, so nothing is silently coerced: a value that does
not parse under its column's contract type sends the whole row to quarantine with file, line,
column, reason and the raw line. A file the contract does not know, or one missing a required
column, is refused whole; the other extracts still load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from caseflags.contracts.schema import (
    LINKED_IDENTIFIER_TYPES,
    TABLE_AGENCY,
    ColumnSpec,
    TableSpec,
    load_contract,
)
from caseflags.contracts.identifiers import nhs_number_valid_expr, upn_valid_expr
from caseflags.ingest.common import LINE, ExtractRefused

EXTRACT_SUFFIXES = (".csv", ".parquet", ".xlsx")

FLAG_TRUE = {"Y", "YES", "1", "TRUE"}
FLAG_FALSE = {"N", "NO", "0", "FALSE"}


@dataclass
class ParsedExtract:
    table: str
    file: str
    content_sha256: str
    rows_read: int
    data: pl.DataFrame  # typed, contract columns only, rows that passed
    quarantine: pl.DataFrame  # file, line, column_name, reason, raw_line
    identifier_issues: pl.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return self.data.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.select(pl.col("line").n_unique()).item() if self.quarantine.height else 0


QUARANTINE_SCHEMA = {
    "file": pl.Utf8,
    "line": pl.Int64,
    "column_name": pl.Utf8,
    "reason": pl.Utf8,
    "raw_line": pl.Utf8,
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


def decode_csv_bytes(data: bytes) -> str:
    """UTF-8 (with or without BOM) or, failing that, Windows-1252 as saved by Excel."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _header_map(header: list[str], spec: TableSpec, file: str) -> dict[str, int]:
    """Position of each contract column in the header (case and spaces forgiven)."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.strip().lstrip("\ufeff").lower()
        if key in spec.column_names and key not in positions:
            positions[key] = i
    missing = [c for c in spec.required if c not in positions]
    if missing:
        raise ExtractRefused(file, f"missing required column {', '.join(missing)}")
    return positions


def _read_csv_fast(raw: bytes, spec: TableSpec, file: str) -> pl.DataFrame | None:
    """Polars over the file's bytes, reading only the contract's columns, for well-formed UTF-8
    files; None when the file needs the exact line-by-line path (Windows-1252, blank lines,
    quoted line breaks, ragged rows)."""
    end = len(raw)
    while end and raw[end - 1] in b"\r\n":  # trailing line breaks and blank lines
        end -= 1
    header_end = raw.find(b"\n")
    crlf = header_end > 0 and raw[header_end - 1 : header_end] == b"\r"
    if raw.find(b"\r\n\r\n" if crlf else b"\n\n", 0, end) != -1:
        return None  # blank lines: line numbers need the csv module
    try:
        header_text = raw[: header_end if header_end != -1 else len(raw)].decode("utf-8")
    except UnicodeDecodeError:
        return None
    header = next(csv.reader([header_text.lstrip("\ufeff").rstrip("\r")]), [])
    positions = _header_map(header, spec, file)
    last_field = len(header) - 1  # read too, to see rows with fields missing at the end
    wanted = sorted(set(positions.values()) | {last_field})
    body = raw if raw[end:] in (b"", b"\n", b"\r\n") else raw[:end]  # polars reads blank tails as rows
    try:
        frame = pl.read_csv(
            body, infer_schema=False, has_header=True, raise_if_empty=False, columns=wanted,
            truncate_ragged_lines=False,
        )
    except Exception:  # invalid UTF-8, ragged rows and friends: the exact path says which line
        return None
    if frame.height != raw.count(b"\n", 0, end):  # a quoted line break: lines != records
        return None
    by_position = dict(zip(wanted, frame.columns))
    # Polars pads a row with too few fields with nulls. A null in the last field must then be
    # an empty last field, i.e. a line ending in a comma; any other null is a short row.
    last_nulls = frame.get_column(by_position[last_field]).null_count()
    if last_nulls:  # counting line ends only when some last field is empty or missing
        empty_last = raw.count(b",\r\n" if crlf else b",\n", 0, end) + raw.endswith(b",", 0, end)
        if last_nulls != empty_last:
            return None
    return frame.select(
        [pl.col(by_position[positions[c]]).alias(c) if c in positions else pl.lit(None, pl.Utf8).alias(c)
         for c in spec.column_names]
    ).with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def _read_csv_exact(text: str, spec: TableSpec, file: str) -> tuple[pl.DataFrame, list[dict]]:
    """csv-module path: exact line numbers with quoted newlines, blank lines and ragged rows."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ExtractRefused(file, "empty file (no header row)") from None
    positions = _header_map(header, spec, file)
    columns: dict[str, list] = {c: [] for c in spec.column_names}
    lines: list[int] = []
    ragged: list[dict] = []
    start_line = reader.line_num + 1
    for record in reader:
        line = start_line
        start_line = reader.line_num + 1
        if not record or all(not v.strip() for v in record) and len(record) <= 1:
            continue  # blank line
        if len(record) != len(header):
            ragged.append({"line": line, "column_name": None,
                           "reason": f"expected {len(header)} fields, found {len(record)}"})
            continue
        lines.append(line)
        for c in spec.column_names:
            columns[c].append(record[positions[c]] if c in positions else None)
    frame = pl.DataFrame({LINE: pl.Series(lines, dtype=pl.Int64), **{c: pl.Series(v, dtype=pl.Utf8) for c, v in columns.items()}})
    return frame.select([LINE, *spec.column_names]), ragged


def read_text_frame(
    path: Path, spec: TableSpec, content: bytes | None = None
) -> tuple[pl.DataFrame, list[dict], str | bytes | None]:
    """All contract columns as text plus `_line`; also rows unreadable as records, and the
    file's content (CSV only: bytes, or decoded text) for recovering raw lines."""
    file = path.name
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes() if content is None else content
        frame = _read_csv_fast(raw, spec, file)
        if frame is not None:
            return frame, [], raw
        text = decode_csv_bytes(raw)
        del raw
        frame, ragged = _read_csv_exact(text, spec, file)
        return frame, ragged, text
    if suffix == ".parquet":
        raw = pl.read_parquet(path)
        first_row = 1
    elif suffix == ".xlsx":
        try:
            raw = pl.read_excel(path, sheet_id=1, engine="calamine", infer_schema_length=0)
        except Exception as exc:  # unreadable workbook: refuse by name, no cell values echoed
            raise ExtractRefused(file, f"unreadable workbook ({type(exc).__name__})") from None
        first_row = 2  # row 1 is the header
    else:
        raise ExtractRefused(file, "unsupported file type")
    positions = _header_map(raw.columns, spec, file)
    original = raw.columns
    frame = raw.select(
        [_as_text(raw[original[positions[c]]]).alias(c) if c in positions else pl.lit(None, pl.Utf8).alias(c)
         for c in spec.column_names]
    ).with_row_index(LINE, offset=first_row).with_columns(pl.col(LINE).cast(pl.Int64))
    return frame, [], None


def _as_text(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Datetime or isinstance(series.dtype, pl.Datetime):
        return series.dt.strftime("%Y-%m-%d")
    if series.dtype == pl.Date:
        return series.dt.strftime("%Y-%m-%d")
    if series.dtype == pl.Boolean:
        return series.map_elements(lambda v: "Y" if v else "N", return_dtype=pl.Utf8)
    if series.dtype.is_float():
        # Excel and pandas turn identifiers into floats; 12.0 -> "12", keep real decimals.
        return series.map_elements(lambda v: str(int(v)) if v == int(v) else repr(v), return_dtype=pl.Utf8)
    if isinstance(series.dtype, pl.List):
        return series.map_elements(lambda v: json.dumps(list(v)), return_dtype=pl.Utf8)
    return series.cast(pl.Utf8)


# --- parsing text into contract types --------------------------------------------------------


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


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
    return pl.when(upper.is_in(list(FLAG_TRUE))).then(True).when(upper.is_in(list(FLAG_FALSE))).then(False).otherwise(None)


def _parse_code_list(value: str | None) -> list[str] | None:
    """Assessment factors: a JSON array or a comma-separated list of census factor codes."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(items, list) or not all(isinstance(i, (str, int)) for i in items):
            return None
    else:
        items = text.split(",")
    codes = [str(i).strip().upper() for i in items if str(i).strip()]
    if not all(_FACTOR_CODE(c) for c in codes):
        return None
    return codes


def _FACTOR_CODE(code: str) -> bool:
    return 1 <= len(code) <= 3 and code[0].isdigit() and (code[-1].isalnum())


def parse_frame(
    frame: pl.DataFrame,
    spec: TableSpec,
    agency_aliases: dict[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed columns for every row, and the problems found: (line, column_name, reason)."""
    aliases = {k.strip().upper(): v for k, v in (agency_aliases or {}).items()}
    typed: list[pl.Expr] = [pl.col(LINE)]
    presence: list[pl.Expr] = []
    problems: list[pl.Expr] = []
    for col in spec.columns:
        text = _blank_to_null(pl.col(col.name))
        parsed, failure_reason = _parse_column(col, text, aliases)
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
                pl.when(present & pl.col(col.name).is_null()).then(pl.lit(failure_reason)).otherwise(None)
                .alias(f"{col.name}\x00bad")
            )
    # Lazy, so polars evaluates each column's shared sub-expressions once and in parallel.
    typed_frame = frame.lazy().select(typed).collect()
    no_problems = pl.DataFrame(schema={LINE: pl.Int64, "column_name": pl.Utf8, "reason": pl.Utf8})
    if not problems:
        return typed_frame, no_problems
    judged = pl.concat([typed_frame, frame.lazy().select(presence).collect()], how="horizontal")
    flagged = judged.lazy().select([pl.col(LINE), *problems]).filter(
        pl.any_horizontal([pl.col(p.meta.output_name()).is_not_null() for p in problems])
    ).collect()
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
    if col.kind == "nhs_number":
        return _strip_excel_decimal(text).str.replace_all(r"[\s-]", ""), None
    if col.kind == "upn":
        return text.str.to_uppercase().str.replace_all(" ", "", literal=True), None
    if col.kind == "id":
        return _strip_excel_decimal(text), None
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
    for column, id_type, expr in checks:
        frames.append(_invalid_rows(table, file, data, column, id_type, None))
    if table == "ssd_linked_identifiers" and data.height:
        kind = pl.col("link_identifier_type").str.strip_chars().str.to_lowercase().replace_strict(
            LINKED_IDENTIFIER_TYPES, default=None
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
_RECORD_KEY = {"ssd_person": "pers_person_id", "agency_records": "agency_record_id", "ehcp_plans": "ehcp_id",
               "ssd_linked_identifiers": "link_person_id"}


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
    agency = pl.col("agency").cast(pl.Utf8) if table == "agency_records" else pl.lit(TABLE_AGENCY.get(table, "SOCIAL_CARE"))
    person = pl.col(_PERSON_COLUMN[table]) if table in _PERSON_COLUMN else pl.lit(None, pl.Utf8)
    key = pl.col(_RECORD_KEY[table]) if table in _RECORD_KEY else pl.lit(None, pl.Utf8)
    label = "NHS number fails its modulus-11 check" if id_type == "NHS_NUMBER" else "UPN fails its DfE check letter"
    return rows.select(
        pl.lit(table).alias("table_name"),
        pl.lit(file).alias("file"),
        pl.col(LINE).alias("line"),
        pl.lit(column).alias("column_name"),
        pl.lit(id_type).alias("identifier_type"),
        agency.alias("agency"),
        person.cast(pl.Utf8).alias("person_id"),
        key.cast(pl.Utf8).alias("record_key"),
        pl.lit(label).alias("reason"),
    )


# --- one extract, end to end --------------------------------------------------------------


def parse_extract(
    path: Path,
    table: str,
    agency_aliases: dict[str, str] | None = None,
    content_sha256: str | None = None,
    content: bytes | None = None,
) -> ParsedExtract:
    """Read and parse one file (or its bytes, already read); raises ExtractRefused for a file
    that cannot be loaded at all."""
    spec = load_contract()[table]
    frame, unreadable, text = read_text_frame(path, spec, content)
    return parse_source(table, path, frame, unreadable, agency_aliases, text=text,
                        content_sha256=content_sha256 or file_sha256(path))


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
) -> ParsedExtract:
    """Type a text frame (contract columns + `_line`) from any source: file, or national return."""
    spec = load_contract()[table]
    typed, problems = parse_frame(frame, spec, agency_aliases)
    bad_lines = set(problems.get_column(LINE).to_list()) if problems.height else set()
    good = typed.filter(~pl.col(LINE).is_in(list(bad_lines))) if bad_lines else typed
    issues = find_identifier_issues(table, path.name, good)
    problem_rows = problems.select(pl.col(LINE).alias("line"), "column_name", "reason").to_dicts() + unreadable
    quarantine = _with_raw_lines(problem_rows, path, text, frame, raw_lines)
    return ParsedExtract(
        table=table,
        file=path.name,
        content_sha256=content_sha256 or "",
        rows_read=frame.height + len(unreadable),
        data=good.sort(LINE),
        quarantine=quarantine,
        identifier_issues=issues,
    )


def combine(parts: list[ParsedExtract]) -> ParsedExtract:
    """One table delivered by several sources (a CSV beside a national return)."""
    if len(parts) == 1:
        return parts[0]
    return ParsedExtract(
        table=parts[0].table,
        file=" + ".join(p.file for p in parts),
        content_sha256=hashlib.sha256(":".join(p.content_sha256 for p in parts).encode()).hexdigest(),
        rows_read=sum(p.rows_read for p in parts),
        data=pl.concat([p.data for p in parts]),
        quarantine=pl.concat([p.quarantine for p in parts]),
        identifier_issues=pl.concat([p.identifier_issues for p in parts]),
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _with_raw_lines(
    rows: list[dict], path: Path, text: str | bytes | None, frame: pl.DataFrame, raw_lines: dict[int, str] | None = None
) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    wanted = {r["line"] for r in rows}
    raw: dict[int, str] = dict(raw_lines or {})
    if raw_lines is not None:
        pass  # the source described its own records (national returns)
    elif text is not None:
        last = max(wanted)
        lines = io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text, newline=None)
        for number, line in enumerate(lines, start=1):
            if number in wanted:
                if isinstance(line, bytes):
                    line = line.decode("utf-8", errors="replace").lstrip("\ufeff")
                raw[number] = line.rstrip("\r\n")
            if number >= last:
                break
    else:
        # Parquet / XLSX have no raw line: the row's delivered values, comma-joined.
        by_line = frame.filter(pl.col(LINE).is_in(list(wanted)))
        for record in by_line.iter_rows(named=True):
            raw[record[LINE]] = ",".join("" if v is None else str(v) for k, v in record.items() if k != LINE)
    return pl.DataFrame(
        [
            {"file": path.name, "line": r["line"], "column_name": r["column_name"], "reason": r["reason"],
             "raw_line": raw.get(r["line"])}
            for r in sorted(rows, key=lambda r: (r["line"], r["column_name"] or ""))
        ],
        schema=QUARANTINE_SCHEMA,
    )
