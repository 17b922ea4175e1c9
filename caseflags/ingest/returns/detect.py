"""Which DfE collection a file is, and which census year, worked out from its content.

A DfE return is an XML `Message` whose `Header/CollectionDetails/Collection` names the
collection. CIN census and SEN2 are loaded; any other collection (SSDA903, school census,
workforce) is recognised and named, so a delivery says what the file is and why it was not used.
The census year comes from `ReferenceDate` (CIN: 31 March; SEN2: the January census day), with
the header `Year` accepted in both conventions found in the field (the year of the reference
date, or the year before it, as the DfE's own samples and the CIN validator's fixtures use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from xml.parsers import expat

from caseflags.ingest.returns.xmltree import Forbidden, Node, StopReading, local, new_parser

DETECT_BYTES = 1 << 16  # kept for callers; the header is now read whole, whatever its size

RECORD_CONTAINER = {"CIN": "Children", "SEN2": "Persons"}
RECORD_ELEMENT = {"CIN": "Child", "SEN2": "Person"}

# Census years whose specification the project has read (docs/RETURNS.md "Years supported").
SUPPORTED_YEARS = {"CIN": tuple(range(2020, 2028)), "SEN2": tuple(range(2019, 2027))}
PERSON_LEVEL_SEN2_FROM = 2023  # before the January 2023 census SEN2 was an aggregate return

# Other DfE collections seen in deliveries, named in the reason a file is not used.
OTHER_COLLECTIONS = {
    "SSDA903": "SSDA903 (children looked after) return",
    "CLA": "SSDA903 (children looked after) return",
    "CSWW": "children's social work workforce census",
    "SWF": "children's social work workforce census",
    "SC": "school census",
    "SCHOOL CENSUS": "school census",
    "SCHOOLCENSUS": "school census",
    "AP": "alternative provision census",
    "EYC": "early years census",
}


def other_collection_name(collection: str | None) -> str:
    if not collection:
        return "a DfE return with no collection named in its header"
    known = OTHER_COLLECTIONS.get(collection.strip().upper())
    shown = collection.strip()[:30]
    return f"{known} ({shown})" if known else f"DfE collection {shown}"


@dataclass
class Header:
    collection: str | None
    year_text: str | None
    reference_date: str | None


@dataclass
class CensusYear:
    year: int | None  # census year: CIN 2024 = 2023-24 (31 March 2024); SEN2 2024 = January 2024
    convention: str  # "reference date" | "Year = reference year" | "Year = year before" | "Year only" | "none"
    warnings: list[str] = field(default_factory=list)


def census_label(collection: str, year: int) -> str:
    return f"{year - 1}-{str(year)[2:]}" if collection == "CIN" else str(year)


def census_year(collection: str, header: Header) -> CensusYear:
    """The census year from the header, accepting both `Year` conventions."""
    reference = _iso_date(header.reference_date)
    year_text = (header.year_text or "").strip()
    year = int(year_text) if re.fullmatch(r"[0-9]{4}", year_text) else None
    if reference is not None:
        ref_year = reference.year
        if collection == "CIN" and (reference.month, reference.day) != (3, 31):
            result = CensusYear(
                ref_year if reference.month <= 3 else ref_year + 1,
                "reference date",
                [f"ReferenceDate {reference} is not a 31 March census date"],
            )
        else:
            result = CensusYear(ref_year, "reference date")
        if year is None:
            if year_text:
                result.warnings.append(f"header Year {year_text[:10]!r} is not a year; ReferenceDate used")
        elif year == result.year:
            result.convention = "Year = reference year"
        elif year == result.year - 1:
            result.convention = "Year = year before"
        else:
            result.warnings.append(f"header Year {year} does not match ReferenceDate {reference}; ReferenceDate used")
        return result
    if year is not None:
        return CensusYear(year, "Year only", ["no ReferenceDate: the header Year is taken as the census year"])
    return CensusYear(None, "none", ["neither Year nor ReferenceDate in the header"])


def _iso_date(value: str | None) -> date | None:
    if not value:
        return None
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?", value.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def canonical_collection(collection: str | None) -> str | None:
    """`CIN` / `SEN2` whatever the case and surrounding spaces it is written in (`cin`, ` Sen2 `);
    any other collection as written."""
    if collection is None:
        return None
    upper = collection.strip().upper()
    return upper if upper in RECORD_ELEMENT else collection


def read_header(node: Node) -> Header:
    return Header(
        canonical_collection(node.get("CollectionDetails/Collection")),
        node.get("CollectionDetails/Year"),
        node.get("CollectionDetails/ReferenceDate"),
    )


@dataclass
class Detected:
    """What the start of a file says: a DfE Message (and its collection), or not."""

    is_message: bool
    collection: str | None = None  # as written in the header
    header: Header | None = None
    problem: str | None = None  # why the start of the file could not be read, if it could not
    root: str | None = None

    @property
    def loadable(self) -> str | None:
        """'CIN' / 'SEN2' when the file is one of the returns caseflags loads."""
        return self.collection if self.collection in RECORD_ELEMENT else None


class HeadReader:
    """Reads the start of a file, fed in chunks, until its header is complete: the header of any
    size (a long comment or a long `Source` block does not cut it short), while a file that is
    not a return stops at its first element (or its first fault)."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.building: list[Node] = []
        self.header: Node | None = None
        self.root: str | None = None
        self.is_message = False
        self.problem: str | None = None
        self.done = False
        self.parser = new_parser(self._on_start, self._on_end, self._on_text)

    def _on_start(self, tag, _attrs):
        tag = local(tag)
        if not self.stack:
            self.root = tag[:40]
            if tag != "Message":
                raise StopReading
            self.is_message = True
        elif self.stack == ["Message"]:
            if tag != "Header":
                raise StopReading  # the header comes first; no header, no collection
            self.building.append(Node(tag, 0))
        elif self.building:
            node = Node(tag, 0)
            self.building[-1].children.append(node)
            self.building.append(node)
        self.stack.append(tag)

    def _on_end(self, _tag):
        self.stack.pop()
        if self.building:
            node = self.building.pop()
            if not self.building:
                self.header = node
                raise StopReading

    def _on_text(self, data):
        if self.building:
            self.building[-1].text.append(data)

    def feed(self, data: bytes, final: bool = False) -> bool:
        """Parse the next bytes; True once the header is read or the file is known not to be a
        return (then nothing more needs reading)."""
        if self.done:
            return True
        try:
            self.parser.Parse(data, final)
        except StopReading:
            self.done = True
        except Forbidden as forbidden:
            self.problem, self.done = str(forbidden), True
        except expat.ExpatError as error:
            self.problem, self.done = (
                f"not well-formed XML: {expat.ErrorString(error.code)} at line {error.lineno}",
                True,
            )
        return self.done

    def detected(self) -> Detected:
        header_node = self.header
        if header_node is None and self.building:
            header_node = self.building[0]  # a header cut short (the file ends inside it): use what was read
        header = read_header(header_node) if isinstance(header_node, Node) else None
        return Detected(self.is_message, header.collection if header else None, header, self.problem, self.root)


def detect_head(head: bytes) -> Detected:
    """Read the header from the first bytes of a file (all that is given); never raises."""
    reader = HeadReader()
    reader.feed(head)
    return reader.detected()
