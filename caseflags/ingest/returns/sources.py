"""The national returns of one delivery: found by content (plain, gzip or zip), the same content
loaded once, each read on its own so a refused or truncated return never changes what happens
to another file's rows. The ingest stage combines their tables with CSV tables of the same name
(caseflags.ingest.extracts.combine: key clashes across sources quarantined row by row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from caseflags.ingest.returns.containers import CONTAINER_SUFFIXES, Member, is_container, members
from caseflags.ingest.returns.detect import other_collection_name
from caseflags.ingest.returns.mappers import RETURN_TABLES
from caseflags.ingest.returns.reader import ReturnExtract, ReturnRefused, detect_file, read_return

RETURN_SUFFIXES = (".xml", *CONTAINER_SUFFIXES)
PRIMARY_TABLE = {"CIN": "ssd_person", "SEN2": "agency_records"}
WARNING_SCHEMA = {
    "table_name": pl.Utf8,
    "file": pl.Utf8,
    "line": pl.Int64,
    "column_name": pl.Utf8,
    "reason": pl.Utf8,
    "raw_value": pl.Utf8,
}


@dataclass
class ReturnSource:
    member: Member
    collection: str
    sha256: str

    @property
    def name(self) -> str:
        return self.member.name


@dataclass
class FoundReturns:
    sources: list[ReturnSource] = field(default_factory=list)
    unused: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def is_return_candidate(path: Path) -> bool:
    """Files looked at for returns: XML, gzip and zip (by name or by their first bytes)."""
    return path.suffix.lower() in RETURN_SUFFIXES or is_container(path)


def find_returns(paths: Iterable[Path]) -> FoundReturns:
    """CIN census and SEN2 returns among `paths`, by content; every other file is named with
    the reason it is not used (another DfE collection by its name)."""
    found = FoundReturns()
    seen: dict[str, str] = {}  # content digest -> first name
    for path in paths:
        inside, unopened = members(path)
        found.unused.extend((u.name, u.reason) for u in unopened)
        for member in inside:
            detected = detect_file(member.path, member.opener)
            if detected.loadable:
                try:
                    digest = member.sha256()
                except EOFError:
                    found.unused.append((member.name, "the compressed file ends early: truncated"))
                    continue
                except Exception as problem:  # noqa: BLE001 - any read failure names the file, never stops the run
                    found.unused.append((member.name, f"unreadable ({type(problem).__name__})"))
                    continue
                if digest in seen:
                    found.unused.append((member.name, f"same content as {seen[digest]}: loaded once"))
                    continue
                seen[digest] = member.name
                found.sources.append(ReturnSource(member, detected.loadable, digest))
            elif detected.is_message:
                found.unused.append(
                    (
                        member.name,
                        f"{other_collection_name(detected.collection)}: not a CIN census or SEN2 return, not used",
                    )
                )
            elif detected.problem:
                found.unused.append((member.name, detected.problem))
            elif member.compression == "zip":
                found.unused.append(
                    (
                        member.name,
                        "not a CIN census or SEN2 return (only returns are read "
                        "from an archive: unpack extracts into the delivery folder)",
                    )
                )
            else:
                what = f"XML whose root is {detected.root}" if detected.root else "not XML"
                found.unused.append((member.name, f"{what}: not a CIN census or SEN2 return"))
    return found


@dataclass
class ReadReturns:
    """Every usable return of a delivery, read once; refusals named, never spread to tables."""

    extracts: dict[str, ReturnExtract] = field(default_factory=dict)  # by source name
    sources: dict[str, ReturnSource] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def tables(self) -> set[str]:
        return {t for e in self.extracts.values() for t in RETURN_TABLES[e.collection]}

    def for_table(self, table: str) -> list[tuple[ReturnSource, pl.DataFrame]]:
        return [
            (self.sources[name], extract.tables[table])
            for name, extract in self.extracts.items()
            if table in extract.tables
        ]

    def warnings(self) -> pl.DataFrame:
        rows = [
            {
                "table_name": PRIMARY_TABLE[e.collection],
                "file": e.file,
                "line": w["line"],
                "column_name": w["column_name"],
                "reason": w["reason"],
                "raw_value": w["raw_value"],
            }
            for e in self.extracts.values()
            for w in e.warnings
        ]
        rows += [
            {
                "table_name": PRIMARY_TABLE[s.collection],
                "file": s.name,
                "line": None,
                "column_name": None,
                "reason": note,
                "raw_value": None,
            }
            for s in self.sources.values()
            for note in s.member.notes
        ]
        return pl.DataFrame(rows, schema=WARNING_SCHEMA)

    def ledger(self) -> list[dict]:
        """Per return: records read = loaded + quarantined."""
        return [
            {
                "file": e.file,
                "collection": e.collection,
                "census_year": e.year,
                "year_convention": e.year_convention,
                "records_read": e.records_read,
                "records_loaded": e.records_loaded,
                "records_quarantined": e.records_quarantined,
                "warnings": len(e.warnings),
            }
            for e in self.extracts.values()
        ]


def read_returns(found: FoundReturns) -> ReadReturns:
    result = ReadReturns()
    for source in found.sources:
        try:
            extract = read_return(source.member.path, source.member.opener, source.name)
        except ReturnRefused as refused:
            result.refused.append((source.name, refused.reason))
            continue
        result.extracts[source.name] = extract
        result.sources[source.name] = source
    return result
