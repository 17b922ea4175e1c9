"""Reading the national returns an authority already produces: CIN census XML and SEN2 XML.

A delivery may hold these instead of (or beside) the SSD / agency CSV tables. A file is
recognised by content (`detect.py`), its census year worked out from its header and loaded
with that year's rules (`rules.py`), each record validated (`validate.py`) and mapped to the
contract tables (`mappers.py`). See docs/RETURNS.md for years, mapping and rules.

Safety: the file is streamed through expat in 64 KiB chunks, so memory is bounded by one child
(or person) element at a time plus the output rows. Any DOCTYPE is refused before its internal
subset is read (`xmltree.py`).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat

import polars as pl

from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.returns.detect import (
    PERSON_LEVEL_SEN2_FROM,
    RECORD_CONTAINER,
    RECORD_ELEMENT,
    SUPPORTED_YEARS,
    Detected,
    HeadReader,
    census_label,
    census_year,
    other_collection_name,
    read_header,
)
from caseflags.ingest.returns.mappers import (  # noqa: F401  (re-exported)
    CIN_TABLES,
    RETURN_TABLES,
    SEN2_TABLES,
    CinMapper,
    Mapper,
    Sen2Mapper,
    sen2_record_id,
)
from caseflags.ingest.returns.rules import (  # noqa: F401  (re-exported for the sample writer)
    ASSESSMENT_FACTORS,
    CLOSURE_REASON,
    DISABILITY,
    PRIMARY_NEED,
    rules_for,
)
from caseflags.ingest.returns.xmltree import CHUNK_BYTES, Forbidden, Node, local, new_parser


class ReturnRefused(ExtractRefused):
    """A whole return cannot be loaded: not well-formed, a DTD, another collection, no records."""


@dataclass
class ReturnExtract:
    file: str
    collection: str  # CIN | SEN2
    year: int  # census year (CIN 2024 = 2023-24; SEN2 2024 = January 2024)
    reference_date: str | None
    records_read: int  # children (CIN) or persons (SEN2) in the file
    tables: dict[str, pl.DataFrame]  # text columns = contract columns, plus `_line`
    quarantine: list[dict] = field(default_factory=list)  # line, column_name, reason, raw_line, record_line
    warnings: list[dict] = field(default_factory=list)  # line, column_name, reason, raw_value
    records_quarantined: int = 0
    year_convention: str = ""

    @property
    def records_loaded(self) -> int:
        return self.records_read - self.records_quarantined


def detect_return(path: Path) -> str | None:
    """'CIN' or 'SEN2' when the file is a DfE return of that collection (by content, reading
    only the start of the file), else None."""
    return detect_file(path).loadable


def detect_file(path: Path, opener: Callable[[Path], BinaryIO] | None = None) -> Detected:
    """What the start of the file says (never raises). Reads until the header is complete,
    whatever its size, or until the file shows it is not a return."""
    reader = HeadReader()
    read_any = False
    try:
        with opener(path) if opener else path.open("rb") as handle:
            # In small reads: a cut-off compressed file still shows its header before it fails.
            while block := handle.read(8192):
                read_any = True
                if reader.feed(block):
                    return reader.detected()
    except (EOFError, zlib.error, zipfile.BadZipFile):
        pass
    except (OSError, ValueError):
        if not read_any:
            return Detected(False, problem="unreadable file")
    return reader.detected()


def read_return(path: Path, opener: Callable[[Path], BinaryIO] | None = None, name: str | None = None) -> ReturnExtract:
    """Stream one CIN census or SEN2 file into contract tables (text), quarantine rows and
    data-quality warnings. `opener` reads a compressed file; `name` is how the file is named in
    reasons (e.g. `delivery.zip:cin.xml`)."""
    file = name or path.name
    reader = _ReturnReader(file)
    parser = new_parser(reader.on_start, reader.on_end, reader.on_text)
    reader.parser = parser
    at_end = False
    try:
        with opener(path) if opener else path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
            at_end = True
            parser.Parse(b"", True)
    except Forbidden as problem:
        raise ReturnRefused(file, str(problem)) from None
    except expat.ExpatError as problem:
        reason = f"not well-formed XML: {expat.ErrorString(problem.code)} at line {problem.lineno}"
        if at_end and reader.path:  # well-formed so far, then the bytes stop: a cut-off file
            reason += f" (the file ends inside {reader.path[-1][:40]}: truncated)"
        raise ReturnRefused(file, reason) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as problem:
        # A cut-off gzip or zip member ends early: say so, as for a truncated plain file.
        reason = (
            "the compressed file ends early: truncated"
            if isinstance(problem, EOFError)
            else f"unreadable ({type(problem).__name__}: {str(problem)[:80]})"
        )
        raise ReturnRefused(file, reason) from None
    return reader.finish()


class _ReturnReader:
    def __init__(self, file: str):
        self.file = file
        self.parser: expat.XMLParserType | None = None
        self.path: list[str] = []
        self.collection: str | None = None
        self.year: int | None = None
        self.reference_date: str | None = None
        self.convention = ""
        self.building: list[Node] = []  # open elements of the header or the current record
        self.records_read = 0
        self.quarantine: list[dict] = []
        self.warnings: list[dict] = []
        self.container_seen = False
        self.mapper: Mapper | None = None

    # expat callbacks ------------------------------------------------------------------------

    def on_start(self, tag, _attrs):
        tag = local(tag)
        line = self.parser.CurrentLineNumber
        depth = len(self.path)
        self.path.append(tag)
        if depth == 0:
            if tag != "Message":
                raise ReturnRefused(self.file, f"root element is {tag[:40]}, not a DfE return Message")
            return
        if depth == 1:
            if tag == "Header":
                self.building = [Node(tag, line)]
            elif self.collection is None:
                raise ReturnRefused(self.file, "no Header/CollectionDetails/Collection before the records")
            elif tag == RECORD_CONTAINER[self.collection]:
                self.container_seen = True
            return
        if self.building:
            node = Node(tag, line)
            self.building[-1].children.append(node)
            self.building.append(node)
            return
        if depth == 2 and self.path[1] == RECORD_CONTAINER.get(self.collection or ""):
            if tag == RECORD_ELEMENT[self.collection]:
                self.building = [Node(tag, line)]
                return
        # anything else outside a record is ignored (and its text checked below)

    def on_end(self, _tag):
        depth = len(self.path)
        tag = self.path.pop()
        if self.building:
            node = self.building.pop()
            if not self.building:
                if depth == 2 and tag == "Header":
                    self._read_header(node)
                elif depth == 3:
                    self.records_read += 1
                    self.mapper.add_record(node, "/".join([*self.path, tag]))

    def on_text(self, data):
        if self.building:
            node = self.building[-1]
            if node.children and data.isspace():
                return  # indentation between elements: the bulk of all text in a return
            node.text.append(data)
            if node.text_line is None and not data.isspace():
                # Buffered text arrives when the next tag starts: count back to its first word.
                start = len(data) - len(data.lstrip())
                node.text_line = self.parser.CurrentLineNumber - data[start:].count("\n")
        elif data.strip() and self.path:
            # Text between elements outside any record: a warning, nothing is lost.
            start = len(data) - len(data.lstrip())
            self.warnings.append(
                {
                    "line": self.parser.CurrentLineNumber - data[start:].count("\n"),
                    "column_name": "/".join(self.path),
                    "reason": "unexpected text between elements",
                    "raw_value": data.strip()[:80],
                }
            )

    # header -----------------------------------------------------------------------------------

    def _read_header(self, node: Node) -> None:
        header = read_header(node)
        collection = header.collection
        if collection not in RECORD_ELEMENT:
            raise ReturnRefused(self.file, f"{other_collection_name(collection)}, not a CIN census or SEN2 return")
        year = census_year(collection, header)
        header_path = "Message/Header/CollectionDetails"
        for note in year.warnings:
            self.warnings.append({"line": node.line, "column_name": header_path, "reason": note, "raw_value": None})
        supported = SUPPORTED_YEARS[collection]
        if year.year is None:
            chosen = supported[-1]
            self.warnings.append(
                {
                    "line": node.line,
                    "column_name": header_path,
                    "raw_value": None,
                    "reason": f"census year unknown: read with the {census_label(collection, chosen)} rules",
                }
            )
        elif year.year > supported[-1]:
            chosen = supported[-1]
            self.warnings.append(
                {
                    "line": node.line,
                    "column_name": header_path,
                    "raw_value": None,
                    "reason": f"{collection} {census_label(collection, year.year)} is later than the years "
                    f"the project has read; loaded with the {census_label(collection, chosen)} rules",
                }
            )
        elif year.year < supported[0]:
            chosen = supported[0]
            self.warnings.append(
                {
                    "line": node.line,
                    "column_name": header_path,
                    "raw_value": None,
                    "reason": f"{collection} {census_label(collection, year.year)} is earlier than the years "
                    f"supported; loaded with the {census_label(collection, chosen)} rules",
                }
            )
        else:
            chosen = year.year
        if collection == "SEN2" and chosen < PERSON_LEVEL_SEN2_FROM:
            self.warnings.append(
                {
                    "line": node.line,
                    "column_name": header_path,
                    "raw_value": None,
                    "reason": f"SEN2 {year.year} predates the person-level SEN2 (January 2023); "
                    "its persons are read with the person-level rules",
                }
            )
        self.collection = collection
        self.year = year.year if year.year is not None else chosen
        self.reference_date = header.reference_date
        self.convention = year.convention
        ruleset = rules_for(collection, max(chosen, PERSON_LEVEL_SEN2_FROM) if collection == "SEN2" else chosen)
        mapper = CinMapper if collection == "CIN" else Sen2Mapper
        self.mapper = mapper(ruleset, self.quarantine, self.warnings)

    def finish(self) -> ReturnExtract:
        if self.collection is None:
            raise ReturnRefused(self.file, "no Header/CollectionDetails/Collection: not a CIN census or SEN2 return")
        if not self.container_seen:
            if self.collection == "SEN2" and self.year is not None and self.year < PERSON_LEVEL_SEN2_FROM:
                raise ReturnRefused(
                    self.file,
                    f"SEN2 {self.year} is the aggregate return (counts, no Persons): "
                    "nothing per child to load; person-level SEN2 starts with January 2023",
                )
            raise ReturnRefused(self.file, f"no {RECORD_CONTAINER[self.collection]} element")
        return ReturnExtract(
            file=self.file,
            collection=self.collection,
            year=self.year,
            reference_date=self.reference_date,
            records_read=self.records_read,
            tables=self.mapper.frames(),
            quarantine=self.quarantine,
            warnings=self.warnings,
            records_quarantined=self.mapper.records_quarantined,
            year_convention=self.convention,
        )
