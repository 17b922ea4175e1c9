"""The one writer of every file a person may open: CSV, XLSX and HTML, owner-only and atomic.

Every output of caseflags (exceptions.csv/xlsx, agency files, quarantine.csv, report.html,
audit_sample.xlsx and the audit packs) is written through this module, so none can bypass it:

- CSV (`write_csv`, `csv_text` for the web's exports): a text cell starting with `=`, `+`, `-`,
  `@` (or their full-width forms), tab or carriage return, after any leading whitespace or control
  characters, is prefixed with `'`, so a spreadsheet program shows it as text instead of running
  it as a formula (OWASP "CSV injection"). `neutralise` is the only neutraliser in caseflags
  (tests/test_output_safety.py fails if another appears).
- XLSX (`workbook`, `workbook_bytes` for the web's exports): xlsxwriter with `strings_to_formulas`, `strings_to_urls` and
  `strings_to_numbers` off, so every string is a text cell; a cell whose text starts with one
  of those characters is also given Excel's quote prefix (the cell stays text when an officer
  edits it) while its value is kept exactly, so a workbook read back gives the ids written.
- HTML (`escape`, `write_text`): every value escaped; pages are self-contained.

Each file is written to a temporary name beside its final one and renamed into place, 0600.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from caseflags.private_files import FILE_MODE, private_file

# A cell starting with one of these is run as a formula (or DDE) by spreadsheet programs; the
# full-width forms too, which some spreadsheet locales turn into their ASCII forms.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def temp_path(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(name)


def publish(temp: Path, final: Path) -> None:
    """Rename `temp` into place (0600), unless `final` already holds exactly its content: then
    `final` is left untouched (same mtime), so a rerun rewrites only the files that changed."""
    if same_content(temp, final):
        temp.unlink()
        os.chmod(final, FILE_MODE)
        return
    os.chmod(temp, FILE_MODE)
    os.replace(temp, final)


def same_content(new: Path, existing: Path) -> bool:
    """`existing` is a plain file (no link) with the same bytes as `new` (size, then digest)."""
    if existing.is_symlink() or not existing.is_file() or existing.stat().st_size != new.stat().st_size:
        return False
    return file_digest(new) == file_digest(existing)


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path to write `final` to; renamed into place (0600) only when the block succeeds."""
    temp = temp_path(final)
    try:
        yield temp
        publish(temp, final)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.filename is None:  # a failed write() names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(final)) from exc
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _ignorable(character: str) -> bool:
    """Characters a spreadsheet may skip before reading a formula: whitespace (incl. no-break and
    zero-width spaces), control and format characters."""
    return character.isspace() or unicodedata.category(character) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def is_formula_like(text: str) -> bool:
    """True for text a spreadsheet could run: its first character that is not whitespace or a
    control character is a formula prefix, or it starts with tab or carriage return."""
    if text[:1] in ("\t", "\r"):
        return True
    for character in text:
        if not _ignorable(character):
            return character in FORMULA_PREFIXES
    return False


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert with a leading `'`."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[dict]) -> Path:
    """A CSV file (UTF-8, header row) of `rows` (dicts) in `columns` order, every cell neutralised."""
    columns = tuple(columns)
    with atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_value(c) for c in columns])
        for row in rows:
            writer.writerow([csv_value(row.get(c)) for c in columns])
    return path


def _write_csv_sequences(handle, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    writer = csv.writer(handle)
    writer.writerow([csv_value(c) for c in header])
    for row in rows:
        writer.writerow([csv_value(v) for v in row])


def write_csv_rows(path: Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Path:
    """As `write_csv`, for rows given as sequences (e.g. a database cursor)."""
    with atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        _write_csv_sequences(handle, header, rows)
    return path


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """As `write_csv_rows`, as text (a download: the web's export), every cell neutralised."""
    buffer = io.StringIO()
    _write_csv_sequences(buffer, header, rows)
    return buffer.getvalue()


# XLSX -------------------------------------------------------------------------------------------


class SafeWorksheet(Worksheet):
    """Every string goes through `_write_string`; formula-like text gets the quote prefix."""

    safe_book: SafeWorkbook

    def _write_string(self, row, col, string, cell_format=None):  # noqa: D401 (xlsxwriter's hook)
        if isinstance(string, str) and is_formula_like(string):
            cell_format = self.safe_book.quoted(cell_format)
        return super()._write_string(row, col, string, cell_format)


class SafeWorkbook(xlsxwriter.Workbook):
    """xlsxwriter with formulas, URLs and numbers-from-strings off, and SafeWorksheet sheets."""

    def __init__(self, filename: str | io.BytesIO):
        self._format_props: dict[int, dict] = {}  # before xlsxwriter adds its default format
        self._quoted: dict[int | None, Format] = {}
        # in_memory: no per-sheet temp files in /tmp (1,400 of them on `la`, about 1 s of a night).
        super().__init__(
            filename,
            {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False, "in_memory": True},
        )

    def add_format(self, properties: dict | None = None) -> Format:
        cell_format = super().add_format(properties)
        self._format_props[id(cell_format)] = dict(properties or {})
        return cell_format

    def add_worksheet(self, name: str | None = None, worksheet_class=None) -> SafeWorksheet:
        sheet = super().add_worksheet(name, worksheet_class=SafeWorksheet)
        sheet.safe_book = self
        return sheet

    def quoted(self, cell_format: Format | None) -> Format:
        key = None if cell_format is None else id(cell_format)
        if key not in self._quoted:
            props = {} if cell_format is None else self._format_props.get(key, {})
            self._quoted[key] = self.add_format({**props, "quote_prefix": True})
        return self._quoted[key]


@contextlib.contextmanager
def workbook(path: Path) -> Iterator[SafeWorkbook]:
    """A SafeWorkbook built in memory, then written to a temporary file and renamed to `path`
    (0600) when the block ends. In memory first: a zip writing straight to a file that fails (a
    full disk) leaves an open archive that complains again, with a traceback, when collected."""
    buffer = io.BytesIO()
    book = SafeWorkbook(buffer)
    try:
        yield book
    finally:
        book.close()
    with atomic_path(path) as temp, private_file(temp, "wb") as handle:
        handle.write(buffer.getvalue())


def workbook_bytes(build) -> bytes:
    """A SafeWorkbook built in memory by `build(book)` (a download: the web's export), as bytes."""
    buffer = io.BytesIO()
    book = SafeWorkbook(buffer)
    try:
        build(book)
    finally:
        book.close()
    return buffer.getvalue()


# HTML and plain text ---------------------------------------------------------------------------


def escape(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def write_text(path: Path, text: str) -> Path:
    """A text file (HTML page, JSON), UTF-8, written atomically, 0600."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return path


# File names from ids --------------------------------------------------------------------------

_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def safe_file_stem(identifier: str, max_readable: int = 40) -> str:
    """A file name stem for an id from data: its safe characters, then a hash of the exact id.

    Two different ids never share a stem (the hash is of the id itself), and the stem holds no
    path separator, dot-prefix, control or non-ASCII character."""
    readable = _UNSAFE_NAME_CHARACTERS.sub("_", identifier)[:max_readable].strip("_-") or "id"
    digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}"


# A code kept as its own folder name: upper-case letters, digits, `_` and `-`, starting with a
# letter or digit, short, and not itself shaped like a hashed name (`<readable>-<12 hex>`).
_PLAIN_FOLDER_NAME = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,63}")
_HASHED_STEM = re.compile(r".*-[0-9a-f]{12}")
# Names Windows refuses for a folder, whatever the case (folders are copied to office shares).
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def safe_folder_name(code: str) -> str:
    """A folder name for an agency or organisation code, unique by construction.

    The code itself when it is plain (upper-case letters, digits, `_`, `-`; see _PLAIN_FOLDER_NAME);
    any other code (`L81010.`, `109019/`, `l81010`, `CON`, ...) becomes its safe characters and a
    hash of the exact code (`safe_file_stem`). A plain name never looks like a hashed one, and
    hashed names carry the hash of the exact code, so two different codes never share a folder,
    even on a case-insensitive file system."""
    if _PLAIN_FOLDER_NAME.fullmatch(code) and code not in _RESERVED_NAMES and not _HASHED_STEM.fullmatch(code.lower()):
        return code
    return safe_file_stem(code)
