"""What every workbook read back (review import, audit outcomes import) must pass before a
spreadsheet library is allowed to parse it.

An .xlsx is a zip: a 368 KB file can inflate to a 300 MB review note, which a reader would hold
in memory several times over. So, from the zip itself and before any parsing:

- the uncompressed sizes its directory declares must total at most `max_workbook_bytes`, and the
  parts must really inflate to no more than that (counted while streaming, in small chunks, so a
  directory that lies costs no memory either);
- each sheet's declared dimension (`<dimension ref="A1:Q5000">`, read from the sheet's first
  bytes) must hold at most `max_workbook_cells` cells;
- no cell may hold a formula (`formula_cells`: read from the XML, because a reader would give the
  formula's cached value, `0` or `2`, as if the officer had typed it).

The limits are [limits] in the configuration (caseflags/config/defaults.toml).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

from caseflags.config import default_limits

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?\"")
_CHUNK = 1 << 16


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Zip part of each worksheet -> its sheet name (from xl/workbook.xml and its relationships)."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship")}
    parts = {}
    for sheet in workbook.iter(f"{{{MAIN_NS}}}sheet"):
        target = targets.get(sheet.get(f"{{{_REL_NS}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        parts[part] = sheet.get("name")
    return parts


def _inflated_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """The real uncompressed size of a part, counted in chunks; stops once above `budget`."""
    if info.compress_type == zipfile.ZIP_STORED:
        return info.compress_size
    if info.compress_type != zipfile.ZIP_DEFLATED:
        return budget + 1  # xlsx parts are stored or deflated; anything else is not a workbook we wrote
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    with _raw_stream(archive, info) as raw:
        remaining = info.compress_size
        while remaining > 0 and total <= budget:
            block = raw.read(min(_CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            data = inflater.decompress(block, _CHUNK)
            total += len(data)
            while inflater.unconsumed_tail and total <= budget:
                data = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
                total += len(data)
    return total


class _raw_stream:
    """The compressed bytes of one zip member (after its local header), not inflated."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo):
        self.handle = open(archive.filename, "rb")
        self.handle.seek(info.header_offset)
        header = self.handle.read(zipfile.sizeFileHeader)
        name_length = int.from_bytes(header[26:28], "little")
        extra_length = int.from_bytes(header[28:30], "little")
        self.handle.seek(info.header_offset + zipfile.sizeFileHeader + name_length + extra_length)

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc):
        self.handle.close()


def _declared_cells(archive: zipfile.ZipFile, part: str) -> int | None:
    """Cells in the sheet's declared dimension, from its first bytes; None when not declared."""
    with archive.open(part) as stream:
        head = stream.read(4096)
    found = _DIMENSION.search(head)
    if not found:
        return None
    first_col, first_row, last_col, last_row = (g.decode() if g else None for g in found.groups())
    if not last_col:
        return 1
    columns = _column_number(last_col) - _column_number(first_col or "A") + 1
    rows = int(last_row) - int(first_row or 1) + 1
    return max(columns, 0) * max(rows, 0)


def workbook_problems(path: Path, limits: dict | None = None) -> list[str]:
    """Why the workbook must not be parsed (size, cells), one line each; [] when it may be."""
    limits = limits or default_limits()
    max_bytes, max_cells = limits["max_workbook_bytes"], limits["max_workbook_cells"]
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            declared = sum(info.file_size for info in infos)
            if declared > max_bytes:
                return [
                    f"{path.name}: the workbook inflates to {declared:,} bytes, more than the limit of "
                    f"{max_bytes:,} (limits.max_workbook_bytes); nothing was read"
                ]
            inflated = 0
            for info in infos:
                inflated += _inflated_size(archive, info, max_bytes - inflated)
                if inflated > max_bytes:
                    return [
                        f"{path.name}: the workbook inflates to more than the limit of {max_bytes:,} bytes "
                        "(limits.max_workbook_bytes) although its directory declares less; nothing was read"
                    ]
            problems = []
            try:
                parts = sheet_parts(archive)
            except (KeyError, ElementTree.ParseError):
                return []  # not a workbook: the reader says so
            for part, sheet in parts.items():
                if part not in archive.namelist():
                    continue
                cells = _declared_cells(archive, part)
                if cells is not None and cells > max_cells:
                    problems.append(
                        f"{path.name}: sheet '{sheet}' declares {cells:,} cells, more than the limit of "
                        f"{max_cells:,} (limits.max_workbook_cells); nothing was read"
                    )
            return problems
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError):
        return []  # not a readable zip: the reader reports it as not a workbook


def formula_cells(path: Path) -> list[str]:
    """Every cell of the workbook that holds a formula, as "sheet 'S' cell B7: ..." lines.

    Read from the file's XML, streaming: a spreadsheet library would give the formula's cached
    value (for `=1+1` in a note, `2`), which must never be imported as the person's text."""
    found = []
    try:
        with zipfile.ZipFile(path) as archive:
            for part, sheet in sheet_parts(archive).items():
                with archive.open(part) as stream:
                    cell_ref = None
                    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
                        if event == "start" and element.tag == f"{{{MAIN_NS}}}c":
                            cell_ref = element.get("r")
                        elif event == "end" and element.tag == f"{{{MAIN_NS}}}f":
                            found.append(f"sheet '{sheet}' cell {cell_ref}: holds a formula; type the value instead")
                        elif event == "end" and element.tag == f"{{{MAIN_NS}}}row":
                            element.clear()
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return []  # not a readable xlsx: reported by the reader
    return sorted(set(found), key=found.index)
