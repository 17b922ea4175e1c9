"""The national returns of one delivery: found by content (plain, gzip or zip), the same content
loaded once, each read on its own so a refused or truncated return never changes what happens
to another file's rows, and combined with CSV tables of the same name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import polars as pl

from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import LINE
from caseflags.ingest.extracts import QUARANTINE_SCHEMA, ParsedExtract, parse_source
from caseflags.ingest.returns.containers import CONTAINER_SUFFIXES, Member, is_container, members
from caseflags.ingest.returns.detect import other_collection_name
from caseflags.ingest.returns.mappers import RETURN_TABLES
from caseflags.ingest.returns.reader import ReturnExtract, ReturnRefused, detect_file, read_return

RETURN_SUFFIXES = (".xml", *CONTAINER_SUFFIXES)
PRIMARY_TABLE = {"CIN": "ssd_person", "SEN2": "agency_records"}
WARNING_SCHEMA = {"table_name": pl.Utf8, "file": pl.Utf8, "line": pl.Int64, "column_name": pl.Utf8,
                  "reason": pl.Utf8, "raw_value": pl.Utf8}


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
                found.unused.append((member.name, f"{other_collection_name(detected.collection)}: "
                                                  "not a CIN census or SEN2 return, not used"))
            elif detected.problem:
                found.unused.append((member.name, detected.problem))
            elif member.compression == "zip":
                found.unused.append((member.name, "not a CIN census or SEN2 return (only returns are read "
                                                  "from an archive: unpack extracts into the delivery folder)"))
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
        return [(self.sources[name], extract.tables[table]) for name, extract in self.extracts.items()
                if table in extract.tables]

    def quarantine(self) -> pl.DataFrame:
        """Whole records (a child, a person) that failed a return's rules, under the table of
        the record (ssd_person / agency_records)."""
        rows = [{"table_name": PRIMARY_TABLE[e.collection], "file": e.file, "line": q["line"],
                 "column_name": q["column_name"], "reason": q["reason"], "raw_line": q["raw_line"]}
                for e in self.extracts.values() for q in e.quarantine]
        return pl.DataFrame(rows, schema={"table_name": pl.Utf8, **QUARANTINE_SCHEMA})

    def warnings(self) -> pl.DataFrame:
        rows = [{"table_name": PRIMARY_TABLE[e.collection], "file": e.file, "line": w["line"],
                 "column_name": w["column_name"], "reason": w["reason"], "raw_value": w["raw_value"]}
                for e in self.extracts.values() for w in e.warnings]
        rows += [{"table_name": PRIMARY_TABLE[s.collection], "file": s.name, "line": None, "column_name": None,
                  "reason": note, "raw_value": None}
                 for s in self.sources.values() for note in s.member.notes]
        return pl.DataFrame(rows, schema=WARNING_SCHEMA)

    def ledger(self) -> list[dict]:
        """Per return: records read = loaded + quarantined."""
        return [{"file": e.file, "collection": e.collection, "census_year": e.year,
                 "year_convention": e.year_convention, "records_read": e.records_read,
                 "records_loaded": e.records_loaded, "records_quarantined": e.records_quarantined,
                 "warnings": len(e.warnings)} for e in self.extracts.values()]


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


# --- combining a table delivered by several sources ----------------------------------------------


def combine_sources(parts: list[ParsedExtract], key: tuple[str, ...] | None) -> ParsedExtract:
    """One table from a CSV and returns (or several returns). Where two sources give the same
    key: identical rows are loaded once (the later copy is counted as quarantined, naming the
    source kept); differing rows are all quarantined, naming both sources."""
    if len(parts) == 1:
        return parts[0]
    data = pl.concat([p.data.with_columns(pl.lit(i).alias("_source")) for i, p in enumerate(parts)])
    quarantine = [p.quarantine for p in parts]
    if key:
        data, clashes = _resolve_clashes(data, key, [p.file for p in parts])
        if clashes.height:
            quarantine.append(clashes)
    return ParsedExtract(
        table=parts[0].table,
        file=" + ".join(p.file for p in parts),
        content_sha256=_digest(":".join(p.content_sha256 for p in parts)),
        rows_read=sum(p.rows_read for p in parts),
        data=data.drop("_source"),
        quarantine=pl.concat(quarantine),
        identifier_issues=pl.concat([p.identifier_issues for p in parts]),
    )


def _resolve_clashes(data: pl.DataFrame, key: tuple[str, ...], files: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    keyed = data.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in key]))
    counts = keyed.group_by(list(key)).agg(pl.col("_source").n_unique().alias("_sources"))
    shared = counts.filter(pl.col("_sources") > 1).select(list(key))
    if not shared.height:
        return data, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    values = [c for c in data.columns if c not in (LINE, "_source")]
    rows = data.join(shared, on=list(key), how="semi").sort(["_source", LINE])
    distinct = rows.group_by(list(key)).agg(pl.struct(values).n_unique().alias("_versions"),
                                            pl.col("_source").first().alias("_kept_source"),
                                            pl.col(LINE).first().alias("_kept_line"))
    rows = rows.join(distinct, on=list(key))
    same = rows.filter(pl.col("_versions") == 1)
    differ = rows.filter(pl.col("_versions") > 1)
    dropped = same.filter(~((pl.col("_source") == pl.col("_kept_source")) & (pl.col(LINE) == pl.col("_kept_line"))))
    out: list[dict] = []
    key_text = ", ".join(key)
    for row in dropped.iter_rows(named=True):
        out.append({"file": files[row["_source"]], "line": row[LINE], "column_name": key_text,
                    "reason": f"same record also delivered by {files[row['_kept_source']]} line {row['_kept_line']}: loaded once",
                    "raw_line": _key_value(row, key)})
    by_key: dict[tuple, list[dict]] = {}
    for row in differ.iter_rows(named=True):
        by_key.setdefault(tuple(row[k] for k in key), []).append(row)
    for group in by_key.values():
        where = "; ".join(f"{files[r['_source']]} line {r[LINE]}" for r in group)
        for row in group:
            out.append({"file": files[row["_source"]], "line": row[LINE], "column_name": key_text,
                        "reason": f"{key_text} delivered differently by several sources ({where}): none loaded",
                        "raw_line": _key_value(row, key)})
    removed = pl.concat([dropped.select("_source", LINE), differ.select("_source", LINE)])
    kept = data.join(removed, on=["_source", LINE], how="anti")
    return kept, pl.DataFrame(out, schema=QUARANTINE_SCHEMA)


def _key_value(row: dict, key: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in key)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_return_table(source: ReturnSource, table: str, frame: pl.DataFrame,
                       agency_aliases: dict[str, str] | None = None) -> ParsedExtract:
    """A return's text rows of one table typed like any extract, named by the return (an
    archive member keeps its `archive.zip:member` name)."""
    raw_lines = {line: f"{source.name}: element at line {line}" for line in frame.get_column(LINE).to_list()}
    parsed = parse_source(table, Path(source.name.replace("/", "_")), frame, [], agency_aliases,
                          content_sha256=source.sha256, raw_lines=raw_lines)
    name = pl.lit(source.name)
    parsed.file = source.name
    parsed.quarantine = parsed.quarantine.with_columns(name.alias("file"))
    parsed.identifier_issues = parsed.identifier_issues.with_columns(name.alias("file"))
    return parsed


def empty_text_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema={LINE: pl.Int64, **{c: pl.Utf8 for c in load_contract()[table].column_names}})
