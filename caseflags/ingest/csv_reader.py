"""CSV extracts read as text: a fast polars path for clean files, a streaming exact path for the rest.

The scan (`scan.py`) decides. Polars reads the file whole and is lenient with damaged quoting,
so it is used only for a plain UTF-8 file whose every line fits the limits, with no quote
character, no NUL byte and a final line break.
Anything else goes through the csv module line by line in strict mode, over physical lines
that are each cut off at `max_record_size` (an over-long line is never held whole), with
`max_field_size` as the csv module's field limit. Every record it cannot read exactly goes to
quarantine with its line and reason; the file is refused only when its header cannot be read.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from caseflags.contracts.schema import TableSpec
from caseflags.ingest.common import LINE, ExtractRefused, header_map
from caseflags.ingest.scan import BLOCK_BYTES, FileScan, IngestLimits

NO_RECORDS = "header row only: no records"
# sqlcmd writes a dash underline under its header and "(N rows affected)" after the rows: layout,
# not records (docs/EXTRACTS.md, "From the SSD").
ROWS_AFFECTED = re.compile(r"^\(\d+ rows? affected\)$")
UNQUOTED_TEXT = (
    "a value holding a comma written without quoting (SSMS's default, sqlcmd) cannot be read "
    'unambiguously; export with quoting (docs/EXTRACTS.md, "From the SSD")'
)
UNQUOTED_JSON = (
    "unquoted value with commas (a JSON list or text exported without quoting): the row cannot be "
    'read unambiguously; export with quoting (docs/EXTRACTS.md, "From the SSD")'
)


def is_underline(text: str) -> bool:
    """sqlcmd's header underline: dashes and separators only."""
    stripped = text.strip()
    return bool(stripped) and "-" in stripped and not stripped.strip("-, \t|;")


def is_layout_record(record: list[str], first: bool) -> bool:
    """A record that is export-tool layout: sqlcmd's underline (the first record only) or its
    rows-affected trailer."""
    if not record:
        return False
    if first and all(v.strip() and not v.strip().strip("-") for v in record):
        return True
    return len(record) == 1 and bool(ROWS_AFFECTED.match(record[0].strip()))


def json_like(value: str) -> bool:
    value = value.strip()
    return (value[:1], value[-1:]) in (("[", "]"), ("{", "}"))


def unquoted_record(text: str, fields: int) -> list[str] | None:
    """A record written without quoting whose only commas beyond the delimiters are inside JSON
    values (SSMS's default CSV, sqlcmd): split on commas, then rejoin each bracketed JSON value.
    None unless the result has exactly `fields` fields, every rejoined value is valid JSON and no
    other field holds a quote: anything else cannot be read unambiguously."""
    parts = text.rstrip("\r\n").split(",")
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        start = part.strip()
        quoted = start.startswith('"[') or start.startswith('"{')
        if start[:1] in "[{" and start or quoted:
            opener = start[1] if quoted else start[0]
            closer = "]" if opener == "[" else "}"
            value = part
            while value.count(opener) > value.count(closer) and i + 1 < len(parts):
                i += 1
                value += "," + parts[i]
            candidate = value.strip()
            if quoted and candidate.endswith('"'):
                candidate = candidate[1:-1]  # SSMS quotes the value without doubling its quotes
            try:
                json.loads(candidate)
            except ValueError:
                return None
            out.append(candidate)
        else:
            if '"' in part:
                return None
            out.append(part)
        i += 1
    return out if len(out) == fields else None


def read_csv_text(
    path: Path, scan: FileScan, spec: TableSpec, limits: IngestLimits, header_out: list[str] | None = None
) -> tuple[pl.DataFrame, list[dict]]:
    """All contract columns as text plus `_line`, and the records that could not be read
    (`header_out`, when given, receives the delivered header)."""
    fast = None
    if (
        scan.plain_utf8
        and not scan.has_nul
        and not scan.quotes
        and scan.ends_with_newline
        and scan.max_line_bytes <= min(limits.max_field_size, limits.max_record_size)
    ):
        fast = _read_csv_fast(path.read_bytes(), spec, path.name, header_out)
    if fast is not None:
        frame, unreadable = fast, []
    else:
        frame, unreadable = _read_csv_exact(path, scan, spec, limits, header_out)
    if frame.height == 0 and not unreadable:
        raise ExtractRefused(path.name, NO_RECORDS)
    return frame, unreadable


def _read_csv_fast(raw: bytes, spec: TableSpec, file: str, header_out: list[str] | None = None) -> pl.DataFrame | None:
    """Polars over the file's bytes, reading only the contract's columns; None when the file
    needs the exact path (blank lines, quoted line breaks, ragged rows, anything polars rejects)."""
    end = len(raw)
    while end and raw[end - 1] in b"\r\n":  # trailing line breaks and blank lines
        end -= 1
    header_end = raw.find(b"\n")
    crlf = header_end > 0 and raw[header_end - 1 : header_end] == b"\r"
    if raw.find(b"\r\n\r\n" if crlf else b"\n\n", 0, end) != -1:
        return None  # blank lines: line numbers need the csv module
    second_end = raw.find(b"\n", header_end + 1)
    if header_end != -1 and is_underline(
        raw[header_end + 1 : second_end if second_end != -1 else end].decode("utf-8", "replace")
    ):
        return None  # sqlcmd's dash underline: the exact path skips it
    if ROWS_AFFECTED.match(raw[raw.rfind(b"\n", 0, end) + 1 : end].decode("utf-8", "replace").strip()):
        return None  # sqlcmd's "(N rows affected)" trailer
    header_text = raw[: header_end if header_end != -1 else len(raw)].decode("utf-8")
    header = next(csv.reader([header_text.lstrip("\ufeff").rstrip("\r")]), [])
    positions = header_map(header, spec, file, header_out)
    wanted = sorted(set(positions.values()))
    body = raw if raw[end:] in (b"", b"\n", b"\r\n") else raw[:end]  # polars reads blank tails as rows
    try:
        frame = pl.read_csv(
            body,
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
            columns=wanted,
            truncate_ragged_lines=False,
        )
    except Exception:  # ragged rows, damaged quoting and friends: the exact path says which line
        return None
    if frame.height != raw.count(b"\n", 0, end):  # a quoted line break: lines != records
        return None
    by_position = dict(zip(wanted, frame.columns))
    # Polars pads a row with too few fields with nulls. With no quote character in the file
    # every comma is a delimiter, so the commas of the body say whether every row is whole.
    if raw.count(b",", header_end + 1, end) != (len(header) - 1) * frame.height:
        return None
    return (
        frame.select(
            [
                pl.col(by_position[positions[c]]).alias(c) if c in positions else pl.lit(None, pl.Utf8).alias(c)
                for c in spec.column_names
            ]
        )
        .with_row_index(LINE, offset=2)
        .with_columns(pl.col(LINE).cast(pl.Int64))
    )


class PhysicalLines:
    """The file's physical lines, decoded, none longer than `max_record_size` bytes: an
    over-long line is skipped in blocks (its length counted) and replaced by an empty line."""

    def __init__(self, path: Path, scan: FileScan, limits: IngestLimits):
        self.path = path
        self.encoding = scan.encoding or "utf-8"
        self.bom = scan.bom
        self.limit = limits.max_record_size
        self.number = 0
        self.oversize: dict[int, int] = {}  # line -> its length in characters
        self.heads: dict[int, str] = {}  # line -> the start of an over-long line
        self.head_chars = limits.raw_line_prefix
        self.undecodable: set[int] = set()
        self.last_ended = True
        self.record: list[str] = []  # the lines of the record being read (reset by the reader)

    def _decode(self, data: bytes) -> str:
        if self.encoding == "cp1252":
            return data.decode("cp1252", errors="replace")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.undecodable.add(self.number)
            return data.decode("utf-8", errors="replace")

    def __iter__(self) -> Iterator[str]:
        with self.path.open("rb") as handle:
            while True:
                data = handle.readline(self.limit + 1)
                if not data:
                    return
                self.number += 1
                if self.number == 1 and self.bom:
                    data = data[3:]
                if len(data) > self.limit and not data.endswith(b"\n"):
                    self.heads[self.number] = data[: 4 * self.head_chars].decode(self.encoding, errors="replace")[
                        : self.head_chars
                    ]
                    self.oversize[self.number] = self._skip_rest(handle, data)
                    self.record.append("\n")
                    yield "\n"
                    continue
                self.last_ended = data.endswith(b"\n")
                text = self._decode(data)
                self.record.append(text)
                yield text

    def _skip_rest(self, handle, data: bytes) -> int:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        length = len(decoder.decode(data))
        while not data.endswith(b"\n"):
            data = handle.readline(BLOCK_BYTES)
            if not data:
                self.last_ended = False
                break
            length += len(decoder.decode(data.rstrip(b"\r\n")))
        else:
            self.last_ended = True
        return length + len(decoder.decode(b"", True))


def _csv_error_reason(exc: csv.Error, limits: IngestLimits) -> str:
    text = str(exc)
    if "field limit" in text:
        return f"field longer than max_field_size ({limits.max_field_size} characters)"
    if "unexpected end of data" in text:
        return "unterminated quoted field: it runs from this line to the end of the file (cut short?)"
    if "expected after" in text:
        return "damaged quoting: text after a closing quote"
    return "unreadable record (damaged quoting or line breaks)"


def _read_csv_exact(
    path: Path, scan: FileScan, spec: TableSpec, limits: IngestLimits, header_out: list[str] | None = None
) -> tuple[pl.DataFrame, list[dict]]:
    """csv-module path, streaming: exact line numbers with quoted newlines, blank lines, ragged
    rows, damaged quoting, over-long fields and records, NUL bytes and a cut-off last line."""
    file = path.name
    previous_limit = csv.field_size_limit(limits.max_field_size)
    try:
        return _read_records(path, scan, spec, limits, file, header_out)
    finally:
        csv.field_size_limit(previous_limit)


def _read_records(path, scan, spec, limits, file, header_out=None):
    lines = PhysicalLines(path, scan, limits)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ExtractRefused(file, "blank file: no header row") from None
    except csv.Error:
        raise ExtractRefused(file, "unreadable header row (damaged quoting or over-long)") from None
    if lines.oversize or lines.undecodable:
        raise ExtractRefused(file, "unreadable header row (over-long or not valid text)")
    positions = header_map(header, spec, file, header_out)
    wanted = [(c, positions.get(c)) for c in spec.column_names]
    columns: dict[str, list] = {c: [] for c in spec.column_names}
    kept: list[int] = []
    problems: list[dict] = []

    def problem(line: int, reason: str, column: str | None = None) -> None:
        problems.append({"line": line, "column_name": column, "reason": reason})

    lines.record.clear()  # the header's text: each record's own text starts after it
    start = reader.line_num + 1
    header_end = reader.line_num
    last_kept_end = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            text = "".join(lines.record)
            lines.record.clear()
            line, end = start, reader.line_num
            start = end + 1
            repaired = unquoted_record(text, len(header)) if end == line and ("[" in text or "{" in text) else None
            if repaired is None:
                problem(line, _csv_error_reason(exc, limits) if "[" not in text and "{" not in text else UNQUOTED_JSON)
                continue
            record = repaired
        else:
            line, end = start, reader.line_num
            start = end + 1
            text = "".join(lines.record)
            lines.record.clear()
        spanned = range(line, end + 1)
        oversize = [lines.oversize[n] for n in spanned if n in lines.oversize]
        if oversize:
            problem(
                line,
                f"record longer than max_record_size ({limits.max_record_size} characters): {max(oversize)} characters",
            )
            continue
        if not record or (len(record) <= 1 and all(not v.strip() for v in record)):
            continue  # blank line
        if is_layout_record(record, first=line == header_end + 1):
            continue  # sqlcmd's underline or rows-affected trailer: layout, not a record
        if any(n in lines.undecodable for n in spanned):
            problem(line, "invalid UTF-8 bytes in a UTF-8 file")
            continue
        if len(record) != len(header) and end == line and ("[" in text or "{" in text):
            record = unquoted_record(text, len(header)) or record
        if len(record) != len(header):
            reason = f"expected {len(header)} fields, found {len(record)}"
            if len(record) > len(header):
                reason = UNQUOTED_JSON if "[" in text or "{" in text else f"{reason}: {UNQUOTED_TEXT}"
            problem(line, reason)
            continue
        if any("\x00" in v for v in record):
            problem(line, "NUL byte in the record")
            continue
        if '"' in text and _stray_quote(text) and not all(json_like(v) for v in record if '"' in v):
            problem(line, "damaged quoting: a quote inside an unquoted field")
            continue
        if sum(map(len, record)) > limits.max_record_size:
            problem(line, f"record longer than max_record_size ({limits.max_record_size} characters)")
            continue
        kept.append(line)
        last_kept_end = end
        for c, position in wanted:
            columns[c].append(record[position] if position is not None else None)
    if kept and not lines.last_ended and last_kept_end == lines.number:
        # The last record has no line break after it: it may have been cut anywhere.
        line = kept.pop()
        for values in columns.values():
            values.pop()
        problem(line, "last record has no line end (the file may be cut short)")
    frame = pl.DataFrame(
        {LINE: pl.Series(kept, dtype=pl.Int64), **{c: pl.Series(v, dtype=pl.Utf8) for c, v in columns.items()}}
    )
    return frame.select([LINE, *spec.column_names]), problems


def _stray_quote(text: str) -> bool:
    """A `"` inside an unquoted field: the csv module keeps it as text; it is damage."""
    quoted = False
    at_start = True
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quoted:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    i += 1
                else:
                    quoted = False
        elif ch == '"':
            if not at_start:
                return True
            quoted = True
        at_start = ch in ",\r\n" and not quoted
        i += 1
    return False


def raw_lines(path: Path, scan: FileScan, wanted: set[int], limits: IngestLimits) -> dict[int, tuple[str, int]]:
    """The delivered text of the wanted physical lines: (prefix of at most raw_line_prefix
    characters, full length in characters), streaming."""
    found: dict[int, tuple[str, int]] = {}
    if not wanted:
        return found
    lines = PhysicalLines(path, scan, limits)
    last = max(wanted)
    for text in lines:
        number = lines.number
        if number in wanted:
            if number in lines.oversize:
                found[number] = (lines.heads[number], lines.oversize[number])
            else:
                text = text.rstrip("\r\n")
                found[number] = (text[: limits.raw_line_prefix], len(text))
        if number >= last:
            break
    return found
