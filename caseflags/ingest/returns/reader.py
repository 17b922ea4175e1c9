"""Reading the national returns an authority already produces: CIN census XML and SEN2 XML.

A delivery may hold these instead of (or beside) the SSD / agency CSV tables. A file is
recognised by content — a root `Message` whose `Header/CollectionDetails/Collection` is `CIN`
or `SEN2` — whatever its name, and loaded into the contract tables mapped in EXTRACTS.md
("National returns"). See docs/RETURNS.md for supported years, mapping and rules.

Safety: the file is streamed through expat with hand-written handlers, so memory is bounded by
one child (or person) element at a time. Any DOCTYPE is refused before its internal subset is
read, so no entity can be declared (no entity-expansion bombs) and nothing outside the file is
ever read (no external entities, no network). An entity reference the file did not declare is
a well-formedness error, and a file that is not well-formed is refused by name.

Validation (written from the DfE schemas as data, `CIN_RULES` / `SEN2_RULES`): a child or
person element that breaks a rule is quarantined with file, line of the offending element,
element path and reason; the rest of the file loads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.parsers import expat

import polars as pl

from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import LINE, ExtractRefused

CHUNK_BYTES = 1 << 16
DETECT_BYTES = 1 << 16  # the header sits in the first few hundred bytes of a real return

# Collection year = the `Year` in the header (the year of the reference date, 31 March for the
# CIN census: census 2023-24 is Year 2024). SEN2 is a January census: SEN2 2024 is Year 2024.
SUPPORTED_YEARS = {"CIN": (2024, 2025, 2026), "SEN2": (2024, 2025, 2026)}
RECORD_CONTAINER = {"CIN": "Children", "SEN2": "Persons"}
RECORD_ELEMENT = {"CIN": "Child", "SEN2": "Person"}

CIN_TABLES = ("ssd_person", "ssd_disability", "ssd_cin_episodes", "ssd_cin_assessments",
              "ssd_assessment_factors", "ssd_cin_plans", "ssd_s47_enquiry", "ssd_initial_cp_conference")
SEN2_TABLES = ("agency_records", "ehcp_plans")
RETURN_TABLES = {"CIN": CIN_TABLES, "SEN2": SEN2_TABLES}


class ReturnRefused(ExtractRefused):
    """A whole return cannot be loaded: not well-formed, a DTD, another collection, a year we
    do not support."""


@dataclass
class ReturnExtract:
    file: str
    collection: str  # CIN | SEN2
    year: int  # collection year from the header
    reference_date: str | None
    records_read: int  # children (CIN) or persons (SEN2) in the file
    tables: dict[str, pl.DataFrame]  # text columns = contract columns, plus `_line`
    quarantine: list[dict] = field(default_factory=list)  # line, column_name, reason, raw_line

    @property
    def records_quarantined(self) -> int:
        return len({q["record_line"] for q in self.quarantine if q["record_line"] is not None})


# --- validation rules, from the DfE schemas ---------------------------------------------------
#
# Paths are relative to the record element (Child / Person). kind: group (has child elements),
# text, date (xs:date), code (value in `codes`), bool (DfE yes/no type), pattern (regex),
# upn (loaded as given: the contract reports a bad UPN as an identifier issue, not quarantine).
# min / max: occurrences inside one parent (max None = unbounded). Elements not listed are
# ignored, so an element a later year adds does not stop a child loading.


@dataclass(frozen=True)
class Rule:
    kind: str
    min: int = 0
    max: int | None = 1
    codes: frozenset[str] = frozenset()
    pattern: str | None = None


def _codes(*values: str) -> frozenset[str]:
    return frozenset(values)


YES_NO = _codes("true", "false", "TRUE", "FALSE", "0", "1")
YES_VALUES = {"true", "TRUE", "1"}
ETHNICITY = _codes("WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND",
                   "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT")
DISABILITY = _codes("NONE", "MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA")
CIN_GENDER = _codes("0", "1", "2", "9")  # GenderCurrent: not recorded / male / female / indeterminate
SEX = _codes("M", "F", "U")
REFERRAL_SOURCE = _codes("1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4",
                         "5A", "5B", "5C", "5D", "6", "7", "8", "9", "10")
PRIMARY_NEED = _codes("N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9")
CLOSURE_REASON = _codes("RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9")
ASSESSMENT_FACTORS = _codes("1A", "1B", "1C", "2A", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C",
                            "5A", "5B", "5C", "6A", "6B", "6C", "7A", "8B", "8C", "8D", "8E", "8F", "9A",
                            "10A", "11A", "12A", "13A", "14A", "15A", "16A", "17A", "18B", "18C", "19B",
                            "19C", "20", "21", "22A", "23A", "24A")
ABUSE_CATEGORY = _codes("NEG", "PHY", "SAB", "EMO", "MUL")
UPN_UNKNOWN_CIN = _codes("UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7")
UPN_UNKNOWN_SEN2 = _codes("UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7", "UN8", "UN9", "UN10")

CIN_RULES: dict[str, Rule] = {
    "ChildIdentifiers": Rule("group", 1, 1),
    "ChildIdentifiers/LAchildID": Rule("text", 1, 1),
    "ChildIdentifiers/UPN": Rule("upn"),
    "ChildIdentifiers/FormerUPN": Rule("upn"),
    "ChildIdentifiers/UPNunknown": Rule("code", codes=UPN_UNKNOWN_CIN),
    # The contract needs a date of birth (pers_dob is required): an unborn child with only an
    # ExpectedPersonBirthDate cannot be loaded and is quarantined saying so.
    "ChildIdentifiers/PersonBirthDate": Rule("date", 1, 1),
    "ChildIdentifiers/ExpectedPersonBirthDate": Rule("date"),
    "ChildIdentifiers/GenderCurrent": Rule("code", codes=CIN_GENDER),  # 2023-24 and earlier
    "ChildIdentifiers/Sex": Rule("code", codes=SEX | CIN_GENDER),  # later years; see RETURNS.md
    "ChildIdentifiers/PersonDeathDate": Rule("date"),
    "ChildCharacteristics": Rule("group", 1, 1),
    "ChildCharacteristics/Ethnicity": Rule("code", 1, 1, codes=ETHNICITY),
    "ChildCharacteristics/Disabilities": Rule("group"),
    "ChildCharacteristics/Disabilities/Disability": Rule("code", 1, None, codes=DISABILITY),
    "CINdetails": Rule("group", 1, None),
    "CINdetails/CINreferralDate": Rule("date", 1, 1),
    "CINdetails/ReferralSource": Rule("code", 1, 1, codes=REFERRAL_SOURCE),
    "CINdetails/PrimaryNeedCode": Rule("code", codes=PRIMARY_NEED),
    "CINdetails/CINclosureDate": Rule("date"),
    "CINdetails/ReasonForClosure": Rule("code", codes=CLOSURE_REASON),
    "CINdetails/DateOfInitialCPC": Rule("date"),
    "CINdetails/ReferralNFA": Rule("bool", 1, 1, codes=YES_NO),
    "CINdetails/Assessments": Rule("group", 0, None),
    "CINdetails/Assessments/AssessmentActualStartDate": Rule("date", 1, 1),
    "CINdetails/Assessments/AssessmentInternalReviewDate": Rule("date"),
    "CINdetails/Assessments/AssessmentAuthorisationDate": Rule("date"),
    "CINdetails/Assessments/FactorsIdentifiedAtAssessment": Rule("group"),
    "CINdetails/Assessments/FactorsIdentifiedAtAssessment/AssessmentFactors":
        Rule("code", 1, None, codes=ASSESSMENT_FACTORS),
    "CINdetails/CINPlanDates": Rule("group", 0, None),
    "CINdetails/CINPlanDates/CINPlanStartDate": Rule("date", 1, 1),
    "CINdetails/CINPlanDates/CINPlanEndDate": Rule("date"),
    "CINdetails/Section47": Rule("group", 0, None),
    "CINdetails/Section47/S47ActualStartDate": Rule("date", 1, 1),
    "CINdetails/Section47/InitialCPCtarget": Rule("date"),
    "CINdetails/Section47/DateOfInitialCPC": Rule("date"),
    "CINdetails/Section47/ICPCnotRequired": Rule("bool", 1, 1, codes=YES_NO),
    "CINdetails/ChildProtectionPlans": Rule("group", 0, None),
    "CINdetails/ChildProtectionPlans/CPPstartDate": Rule("date", 1, 1),
    "CINdetails/ChildProtectionPlans/CPPendDate": Rule("date"),
    "CINdetails/ChildProtectionPlans/InitialCategoryOfAbuse": Rule("code", 1, 1, codes=ABUSE_CATEGORY),
    "CINdetails/ChildProtectionPlans/LatestCategoryOfAbuse": Rule("code", 1, 1, codes=ABUSE_CATEGORY),
    "CINdetails/ChildProtectionPlans/NumberOfPreviousCPP": Rule("pattern", 1, 1, pattern=r"[0-9]+"),
    "CINdetails/ChildProtectionPlans/Reviews": Rule("group"),
    "CINdetails/ChildProtectionPlans/Reviews/CPPreviewDate": Rule("date", 1, None),
}
# Exactly one of these must be present in the parent (GenderCurrent was renamed Sex).
CIN_ONE_OF = {"ChildIdentifiers": ("GenderCurrent", "Sex")}

SEN_SETTING = _codes("OLA", "EHE", "EYP", "OPA", "OTH", "NEET", "NIEC", "NIEO")
RANK = _codes("1", "2")
SEN_TYPE = _codes("SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH")
REQUEST_OUTCOME = _codes("Y", "N", "A", "W", "H")
REVIEW_OUTCOME = _codes("A", "C", "M")
URN = r"[0-9]{6}"
UKPRN = r"[0-9]{8}"


def _placement_rules(prefix: str, dated: bool) -> dict[str, Rule]:
    rules = {
        f"{prefix}/URN": Rule("pattern", pattern=URN),
        f"{prefix}/UKPRN": Rule("pattern", pattern=UKPRN),
        f"{prefix}/SENSetting": Rule("code", codes=SEN_SETTING),
        f"{prefix}/PlacementRank": Rule("code", 1, 1, codes=RANK),
        f"{prefix}/SENunitIndicator": Rule("bool", 1, 1, codes=YES_NO),
        f"{prefix}/ResourcedProvisionIndicator": Rule("bool", 1, 1, codes=YES_NO),
    }
    if dated:
        rules[f"{prefix}/EntryDate"] = Rule("date", 1, 1)
        rules[f"{prefix}/LeavingDate"] = Rule("date")
    return rules


SEN2_RULES: dict[str, Rule] = {
    "Surname": Rule("text", 1, 1),
    "Forename": Rule("text", 1, 1),
    "PersonBirthDate": Rule("date", 1, 1),
    "Sex": Rule("code", 1, 1, codes=SEX),
    "Ethnicity": Rule("code", codes=ETHNICITY),
    "PostCode": Rule("text"),
    "UPN": Rule("upn"),
    "UniqueLearnerNumber": Rule("pattern", pattern=r"[0-9]{10}"),
    "UPNunknown": Rule("code", codes=UPN_UNKNOWN_SEN2),
    "Requests": Rule("group", 1, None),
    "Requests/ReceivedDate": Rule("date"),
    "Requests/RYA": Rule("bool", codes=YES_NO),
    "Requests/RequestOutcomeDate": Rule("date"),
    "Requests/RequestOutcome": Rule("code", 1, 1, codes=REQUEST_OUTCOME),
    "Requests/RequestMediation": Rule("bool", codes=YES_NO),
    "Requests/RequestTribunal": Rule("bool", codes=YES_NO),
    "Requests/Exported": Rule("pattern", pattern=r"[0-9]{3}"),
    "Requests/Assessment": Rule("group"),
    "Requests/Assessment/AssessmentOutcome": Rule("code", 1, 1, codes=REQUEST_OUTCOME),
    "Requests/Assessment/AssessmentOutcomeDate": Rule("date"),
    "Requests/Assessment/Week20": Rule("bool", codes=YES_NO),
    "Requests/Assessment/NamedPlan": Rule("group"),
    "Requests/Assessment/NamedPlan/StartDate": Rule("date", 1, 1),
    "Requests/Assessment/NamedPlan/PlanDetail": Rule("group", 1, 2),
    **_placement_rules("Requests/Assessment/NamedPlan/PlanDetail", dated=False),
    "Requests/Assessment/NamedPlan/CeaseDate": Rule("date"),
    "Requests/Assessment/NamedPlan/CeaseReason": Rule("code", codes=_codes(*"123456789")),
    "Requests/ActivePlans": Rule("group"),
    "Requests/ActivePlans/TransferLA": Rule("pattern", pattern=r"[0-9]{3}"),
    "Requests/ActivePlans/PlacementDetail": Rule("group", 1, 2),
    **_placement_rules("Requests/ActivePlans/PlacementDetail", dated=True),
    "Requests/ActivePlans/SENneed": Rule("group", 1, 2),
    "Requests/ActivePlans/SENneed/SENtype": Rule("code", 1, 1, codes=SEN_TYPE),
    "Requests/ActivePlans/SENneed/SENtypeRank": Rule("code", 1, 1, codes=RANK),
    "Requests/ActivePlans/ReviewMeeting": Rule("date"),
    "Requests/ActivePlans/ReviewOutcome": Rule("code", codes=REVIEW_OUTCOME),
    "Requests/ActivePlans/LastReview": Rule("date"),
}
SEN2_ONE_OF: dict[str, tuple[str, ...]] = {}

RULES = {"CIN": CIN_RULES, "SEN2": SEN2_RULES}
ONE_OF = {"CIN": CIN_ONE_OF, "SEN2": SEN2_ONE_OF}


def _children_rules(rules: dict[str, Rule]) -> dict[str, list[tuple[str, Rule]]]:
    by_parent: dict[str, list[tuple[str, Rule]]] = {}
    for path, rule in rules.items():
        parent, _, name = path.rpartition("/")
        by_parent.setdefault(parent, []).append((name, rule))
    return by_parent


RULES_BY_PARENT = {c: _children_rules(r) for c, r in RULES.items()}
_PATTERNS = {p: re.compile(p) for r in (*CIN_RULES.values(), *SEN2_RULES.values()) if (p := r.pattern)}
_XS_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")


# --- a small element tree, one record at a time -------------------------------------------------


class Node:
    __slots__ = ("tag", "line", "text", "children", "text_line")

    def __init__(self, tag: str, line: int):
        self.tag = tag
        self.line = line
        self.text: list[str] = []
        self.children: list[Node] = []
        self.text_line: int | None = None  # where non-blank text first appeared

    def value(self) -> str:
        return "".join(self.text).strip()

    def all(self, tag: str) -> list["Node"]:
        return [c for c in self.children if c.tag == tag]

    def first(self, tag: str) -> "Node | None":
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def get(self, path: str) -> str | None:
        """Text of the first element at `path` (a/b/c) below this one; None if absent or empty."""
        node: Node | None = self
        for part in path.split("/"):
            node = node.first(part) if node is not None else None
        if node is None:
            return None
        return node.value() or None


class _StopReading(Exception):
    """Detection has what it needs; stop parsing."""


class _Forbidden(Exception):
    """A DOCTYPE / entity declaration / external entity: the file is refused."""


def _new_parser(on_start, on_end, on_text) -> expat.XMLParserType:
    parser = expat.ParserCreate()  # no namespace processing: DfE returns carry none
    parser.buffer_text = True
    parser.buffer_size = CHUNK_BYTES
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_args):
        raise _Forbidden("a DOCTYPE or entity declaration is not allowed in a return")

    # Refusing the DOCTYPE as it opens means no entity can ever be declared, so no expansion
    # bomb and no external entity; the other handlers are belts and braces.
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.CharacterDataHandler = on_text
    return parser


def _local(tag: str) -> str:
    return tag.rpartition(":")[2]


# --- detection ------------------------------------------------------------------------------


def detect_return(path: Path) -> str | None:
    """'CIN' or 'SEN2' when the file is a DfE return of that collection (by content, reading
    only the start of the file), else None. Unsafe or broken XML is None here: `read_return`
    says why when asked to load it."""
    try:
        with path.open("rb") as handle:
            head = handle.read(DETECT_BYTES)
    except OSError:
        return None
    return _collection_in(head)


def _collection_in(head: bytes) -> str | None:
    stack: list[str] = []
    found: dict[str, str] = {}
    text: list[str] = []

    def on_start(tag, _attrs):
        tag = _local(tag)
        if not stack and tag != "Message":
            raise _StopReading
        if stack == ["Message"] and tag != "Header":
            raise _StopReading  # the header comes first; no header, no collection
        stack.append(tag)
        text.clear()

    def on_end(_tag):
        if stack == ["Message", "Header", "CollectionDetails", "Collection"]:
            found["collection"] = "".join(text).strip()
            raise _StopReading
        stack.pop()
        if not stack or stack == ["Message"]:
            raise _StopReading

    def on_text(data):
        text.append(data)

    parser = _new_parser(on_start, on_end, on_text)
    try:
        parser.Parse(head, False)
    except (_StopReading, _Forbidden, expat.ExpatError):
        pass
    collection = found.get("collection")
    return collection if collection in RECORD_ELEMENT else None


# --- reading a whole return --------------------------------------------------------------------


def read_return(path: Path) -> ReturnExtract:
    """Stream one CIN census or SEN2 file into contract tables (text) plus quarantine rows."""
    reader = _ReturnReader(path.name)
    parser = _new_parser(reader.on_start, reader.on_end, reader.on_text)
    reader.parser = parser
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Forbidden as problem:
        raise ReturnRefused(path.name, str(problem)) from None
    except expat.ExpatError as problem:
        reason = f"not well-formed XML: {expat.ErrorString(problem.code)} at line {problem.lineno}"
        raise ReturnRefused(path.name, reason) from None
    except OSError as problem:
        raise ReturnRefused(path.name, f"unreadable ({type(problem).__name__})") from None
    return reader.finish()


class _ReturnReader:
    def __init__(self, file: str):
        self.file = file
        self.parser: expat.XMLParserType | None = None
        self.path: list[str] = []
        self.header: Node | None = None
        self.collection: str | None = None
        self.year: int | None = None
        self.reference_date: str | None = None
        self.building: list[Node] = []  # open elements of the header or the current record
        self.records_read = 0
        self.quarantine: list[dict] = []
        self.container_seen = False
        self.mapper: _CinMapper | _Sen2Mapper | None = None

    # expat callbacks ------------------------------------------------------------------------

    def on_start(self, tag, _attrs):
        tag = _local(tag)
        line = self.parser.CurrentLineNumber
        depth = len(self.path)
        self.path.append(tag)
        if depth == 0:
            if tag != "Message":
                raise ReturnRefused(self.file, f"root element is {tag}, not a DfE return Message")
            return
        if depth == 1:
            if tag == "Header":
                self.header = Node(tag, line)
                self.building = [self.header]
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
                node = Node(tag, line)
                self.building = [node]
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
            # Text between elements outside any record: nothing to quarantine but the text.
            start = len(data) - len(data.lstrip())
            self.quarantine.append({
                "line": self.parser.CurrentLineNumber - data[start:].count("\n"), "column_name": "/".join(self.path),
                "reason": "unexpected text between elements", "raw_line": "/".join(self.path),
                "record_line": None,
            })

    # header -----------------------------------------------------------------------------------

    def _read_header(self, header: Node) -> None:
        collection = header.get("CollectionDetails/Collection")
        if collection not in RECORD_ELEMENT:
            shown = collection if collection and len(collection) <= 20 else "missing"
            raise ReturnRefused(self.file, f"collection {shown} is not a CIN census or SEN2 return")
        year_text = header.get("CollectionDetails/Year") or ""
        reference = header.get("CollectionDetails/ReferenceDate")
        year = int(year_text) if re.fullmatch(r"[0-9]{4}", year_text) else None
        if year is None and reference and _parse_xs_date(reference):
            year = int(reference[:4])
        if year not in SUPPORTED_YEARS[collection]:
            supported = ", ".join(str(y) for y in SUPPORTED_YEARS[collection])
            raise ReturnRefused(self.file, f"{collection} year {year_text or 'missing'} is not supported (supported: {supported})")
        self.collection = collection
        self.year = year
        self.reference_date = reference
        self.mapper = _CinMapper(self) if collection == "CIN" else _Sen2Mapper(self)

    def finish(self) -> ReturnExtract:
        if self.collection is None:
            raise ReturnRefused(self.file, "no Header/CollectionDetails/Collection: not a CIN census or SEN2 return")
        if not self.container_seen:
            raise ReturnRefused(self.file, f"no {RECORD_CONTAINER[self.collection]} element")
        return ReturnExtract(
            file=self.file,
            collection=self.collection,
            year=self.year,
            reference_date=self.reference_date,
            records_read=self.records_read,
            tables=self.mapper.frames(),
            quarantine=self.quarantine,
        )


# --- validating one record ---------------------------------------------------------------------


def _parse_xs_date(value: str) -> str | None:
    match = _XS_DATE.fullmatch(value)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


_RECORD_RULE = Rule("group")


def validate_record(record: Node, collection: str, record_path: str) -> list[tuple[int, str, str]]:
    """(line, element path, reason) for every rule the record breaks; empty when it loads."""
    problems: list[tuple[int, str, str]] = []
    by_parent = RULES_BY_PARENT[collection]
    rules = RULES[collection]
    one_of = ONE_OF[collection]

    def full(relative: str, name: str | None = None) -> str:
        return "/".join(p for p in (record_path, relative, name) if p)

    def walk(node: Node, relative: str) -> None:
        children = node.children
        rule = rules.get(relative) if relative else _RECORD_RULE
        if rule is None:  # an element the schema does not list: ignored with all inside it
            if children and node.value():
                problems.append((node.text_line or node.line, full(relative), "unexpected text between elements"))
            return
        if rule.kind == "group":
            if node.text and node.value():
                problems.append((node.text_line or node.line, full(relative), "unexpected text between elements"))
        elif children:
            problems.append((node.line, full(relative), f"{node.tag} must hold a value, not elements"))
        else:
            reason = _value_problem(node.value(), rule)
            if reason:
                problems.append((node.line, full(relative), reason))
        expected = by_parent.get(relative)
        if expected is None:
            return
        counts: dict[str, int] = {}
        for child in children:
            counts[child.tag] = counts.get(child.tag, 0) + 1
        for name, child_rule in expected:
            seen = counts.get(name, 0)
            if seen < child_rule.min:
                problems.append((node.line, full(relative, name), f"mandatory element {name} missing"))
            elif child_rule.max is not None and seen > child_rule.max:
                problems.append((node.line, full(relative, name), f"{name} given {seen} times (at most {child_rule.max})"))
        if relative in one_of:
            names = one_of[relative]
            if sum(counts.get(n, 0) for n in names) != 1:
                problems.append((node.line, full(relative, names[0]), f"exactly one of {' or '.join(names)} is required"))
        for child in children:
            walk(child, f"{relative}/{child.tag}" if relative else child.tag)

    walk(record, "")
    return problems


def _value_problem(value: str, rule: Rule) -> str | None:
    if not value:
        return "mandatory element is empty" if rule.min else None
    if rule.kind == "date":
        if not _XS_DATE.fullmatch(value):
            return "not a date in YYYY-MM-DD form"
        if _parse_xs_date(value) is None:
            return "impossible date"
    elif rule.kind in ("code", "bool"):
        if value not in rule.codes:
            return "unknown code"
    elif rule.kind == "pattern":
        if not _PATTERNS[rule.pattern].fullmatch(value):
            return "wrong format"
    return None


# --- mapping records to contract tables ----------------------------------------------------------


class _TableRows:
    """Column lists for one contract table, text values plus `_line`."""

    def __init__(self, table: str):
        self.columns = load_contract()[table].column_names
        self.values: dict[str, list] = {c: [] for c in (LINE, *self.columns)}

    def add(self, line: int, **row) -> None:
        self.values[LINE].append(line)
        for column in self.columns:
            self.values[column].append(row.get(column))

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {LINE: pl.Series(self.values[LINE], dtype=pl.Int64),
             **{c: pl.Series(self.values[c], dtype=pl.Utf8) for c in self.columns}}
        )


class _Mapper:
    collection = ""
    tables: tuple[str, ...] = ()

    def __init__(self, reader: _ReturnReader):
        self.reader = reader
        self.rows = {t: _TableRows(t) for t in self.tables}
        self.seen: dict[str, int] = {}  # record key -> line of its first occurrence

    def frames(self) -> dict[str, pl.DataFrame]:
        return {t: r.frame() for t, r in self.rows.items()}

    def add_record(self, record: Node, record_path: str) -> None:
        problems = validate_record(record, self.collection, record_path)
        key, label = self.key(record)
        if not problems and key is not None:
            if key in self.seen:
                problems.append((record.line, record_path, f"duplicated {label}: first given at line {self.seen[key]}"))
        problems += self.mapping_problems(record, record_path) if not problems else []
        if problems:
            described = self.describe(record, record_path)
            for line, element_path, reason in problems:
                self.reader.quarantine.append({
                    "line": line, "column_name": element_path, "reason": reason,
                    "raw_line": described, "record_line": record.line,
                })
            return
        if key is not None:
            self.seen[key] = record.line
        self.map(record)

    def key(self, record: Node) -> tuple[str | None, str]:
        raise NotImplementedError

    def describe(self, record: Node, record_path: str) -> str:
        raise NotImplementedError

    def mapping_problems(self, record: Node, record_path: str) -> list[tuple[int, str, str]]:
        return []

    def map(self, record: Node) -> None:
        raise NotImplementedError


def _flag(value: str | None) -> str | None:
    if value is None:
        return None
    return "Y" if value in YES_VALUES else "N"


# Sex as held in pers_sex / agency_records.sex: the SEN2 letters; GenderCurrent digits mapped.
_GENDER_TO_SEX = {"1": "M", "2": "F", "0": "U", "9": "I"}


def _sex(value: str | None) -> str | None:
    if value is None:
        return None
    return _GENDER_TO_SEX.get(value, value)


class _CinMapper(_Mapper):
    collection = "CIN"
    tables = CIN_TABLES

    def key(self, record: Node) -> tuple[str | None, str]:
        return record.get("ChildIdentifiers/LAchildID"), "child, same LAchildID"

    def describe(self, record: Node, record_path: str) -> str:
        child_id = record.get("ChildIdentifiers/LAchildID")
        return f"{record_path} at line {record.line}, LAchildID {child_id or '(none)'}"

    def map(self, child: Node) -> None:
        ids = child.first("ChildIdentifiers")
        person = ids.get("LAchildID")
        self.rows["ssd_person"].add(
            child.line, pers_person_id=person, pers_upn=ids.get("UPN"),
            pers_dob=_parse_xs_date(ids.get("PersonBirthDate")),
            pers_sex=_sex(ids.get("Sex") or ids.get("GenderCurrent")),
        )
        disabilities = child.first("ChildCharacteristics").first("Disabilities")
        for disability in disabilities.all("Disability") if disabilities else ():
            self.rows["ssd_disability"].add(disability.line, disa_person_id=person, disa_disability_code=disability.value())
        episode_ids: dict[str, int] = {}
        for episode in child.all("CINdetails"):
            referral_date = _parse_xs_date(episode.get("CINreferralDate"))
            referral_id = _unique(f"{person}/{referral_date}", episode_ids)
            self.rows["ssd_cin_episodes"].add(
                episode.line, cine_referral_id=referral_id, cine_person_id=person,
                cine_referral_date=referral_date, cine_cin_primary_need_code=episode.get("PrimaryNeedCode"),
                cine_close_date=_date_at(episode, "CINclosureDate"), cine_close_reason=episode.get("ReasonForClosure"),
            )
            self._map_episode_parts(episode, person, referral_id)

    def _map_episode_parts(self, episode: Node, person: str, referral_id: str) -> None:
        part_ids: dict[str, int] = {}
        for assessment in episode.all("Assessments"):
            start = _date_at(assessment, "AssessmentActualStartDate")
            assessment_id = _unique(f"{referral_id}/A/{start}", part_ids)
            self.rows["ssd_cin_assessments"].add(
                assessment.line, cina_assessment_id=assessment_id, cina_person_id=person,
                cina_referral_id=referral_id, cina_assessment_start_date=start,
                cina_assessment_auth_date=_date_at(assessment, "AssessmentAuthorisationDate"),
            )
            factors = assessment.first("FactorsIdentifiedAtAssessment")
            if factors is not None:
                codes = [f.value() for f in factors.all("AssessmentFactors")]
                self.rows["ssd_assessment_factors"].add(
                    factors.line, cinf_assessment_id=assessment_id,
                    cinf_assessment_factors_json=json.dumps(codes, separators=(",", ":")),
                )
        for plan in episode.all("CINPlanDates"):
            start = _date_at(plan, "CINPlanStartDate")
            self.rows["ssd_cin_plans"].add(
                plan.line, cinp_cin_plan_id=_unique(f"{referral_id}/P/{start}", part_ids),
                cinp_referral_id=referral_id, cinp_person_id=person, cinp_cin_plan_start_date=start,
                cinp_cin_plan_end_date=_date_at(plan, "CINPlanEndDate"),
            )
        for s47 in episode.all("Section47"):
            start = _date_at(s47, "S47ActualStartDate")
            enquiry_id = _unique(f"{referral_id}/S47/{start}", part_ids)
            self.rows["ssd_s47_enquiry"].add(
                s47.line, s47e_s47_enquiry_id=enquiry_id, s47e_referral_id=referral_id, s47e_person_id=person,
                s47e_s47_start_date=start, s47e_s47_nfa=_flag(s47.get("ICPCnotRequired")),
            )
            target, held = _date_at(s47, "InitialCPCtarget"), _date_at(s47, "DateOfInitialCPC")
            if target or held:
                self.rows["ssd_initial_cp_conference"].add(
                    s47.line, icpc_icpc_id=f"{enquiry_id}/ICPC", icpc_s47_enquiry_id=enquiry_id,
                    icpc_person_id=person, icpc_icpc_target_date=target, icpc_icpc_date=held,
                )


class _Sen2Mapper(_Mapper):
    collection = "SEN2"
    tables = SEN2_TABLES

    def key(self, record: Node) -> tuple[str | None, str]:
        return sen2_record_id(record.get("UPN"), record.get("Forename"), record.get("Surname"),
                              record.get("PersonBirthDate")), "person, same UPN (or name and birth date)"

    def describe(self, record: Node, record_path: str) -> str:
        upn = record.get("UPN")
        return f"{record_path} at line {record.line}" + (f", UPN {upn}" if upn else "")

    def mapping_problems(self, person: Node, record_path: str) -> list[tuple[int, str, str]]:
        # ehcp_plans needs a UPN to reach the child; a plan without one cannot load.
        if person.get("UPN") is None and any(_named_plan(r) is not None for r in person.all("Requests")):
            return [(person.line, f"{record_path}/UPN", "an EHC plan cannot be loaded without a UPN")]
        return []

    def map(self, person: Node) -> None:
        upn = person.get("UPN")
        record_id = sen2_record_id(upn, person.get("Forename"), person.get("Surname"), person.get("PersonBirthDate"))
        self.rows["agency_records"].add(
            person.line, agency="EDUCATION", agency_record_id=record_id, upn=upn,
            forename=person.get("Forename"), surname=person.get("Surname"),
            dob=_date_at(person, "PersonBirthDate"), sex=person.get("Sex"), postcode=person.get("PostCode"),
        )
        plan_ids: dict[str, int] = {}
        for request in person.all("Requests"):
            plan = _named_plan(request)
            if plan is None:
                continue
            start = _date_at(plan, "StartDate")
            active = request.first("ActivePlans")
            self.rows["ehcp_plans"].add(
                plan.line, ehcp_id=_unique(f"{record_id}/{start}", plan_ids), upn=upn,
                named_plan_start_date=start, ceased_date=_date_at(plan, "CeaseDate"),
                last_review_date=_date_at(active, "LastReview") if active is not None else None,
                school_urn=_first_rank_urn(active.all("PlacementDetail") if active is not None else [])
                or _first_rank_urn(plan.all("PlanDetail")),
            )


def sen2_record_id(upn: str | None, forename: str | None, surname: str | None, dob: str | None) -> str:
    """Stable EDUCATION agency_record_id for a SEN2 person: from the UPN, else a digest of name
    and birth date (SEN2 carries no local person id)."""
    if upn:
        return f"SEN2-{upn.upper()}"
    digest = hashlib.sha1("|".join(v or "" for v in (forename, surname, dob)).upper().encode()).hexdigest()
    return f"SEN2-H{digest[:12]}"


def _named_plan(request: Node) -> Node | None:
    assessment = request.first("Assessment")
    return assessment.first("NamedPlan") if assessment is not None else None


def _first_rank_urn(placements: list[Node]) -> str | None:
    ranked = sorted(placements, key=lambda p: p.get("PlacementRank") or "9")
    for placement in ranked:
        if urn := placement.get("URN"):
            return urn
    return None


def _date_at(node: Node | None, path: str) -> str | None:
    if node is None:
        return None
    value = node.get(path)
    return _parse_xs_date(value) if value else None


def _unique(base: str, used: dict[str, int]) -> str:
    """A derived id, with `#2`, `#3`... when the same child has two parts on the same date."""
    used[base] = used.get(base, 0) + 1
    return base if used[base] == 1 else f"{base}#{used[base]}"
