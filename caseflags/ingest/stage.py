"""The ingest stage: every extract of a delivery parsed into its staged table.

Nothing in the live tables changes here; publication (caseflags.store.publish) swaps the staged
tables in. An extract whose content and parser are unchanged since the live data was loaded is not
parsed again (UNCHANGED): its earlier quarantined rows are listed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from caseflags.config import Config
from caseflags.contracts.schema import load_contract
from caseflags.errors import RunAborted
from caseflags.faults import fault_point
from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.delivery import discover_delivery
from caseflags.ingest.extracts import combine, file_sha256, parse_extract, parse_source
from caseflags.ingest.returns.reader import RETURN_TABLES, read_return
from caseflags.store.database import SCHEMA_SQL
from caseflags.store.ledger import ExtractOutcome, StagedDelivery, live_fingerprints
from caseflags.store.publish import stage_table

log = logging.getLogger("caseflags")

# Bump when a change to ingest alters the rows it loads, so unchanged files are re-parsed.
INGEST_VERSION = 1


@dataclass
class Delivery:
    """What the ingest stage made of a delivery folder."""

    outcomes: dict[str, ExtractOutcome] = field(default_factory=dict)
    refused_files: list[dict] = field(default_factory=list)
    staged: StagedDelivery = field(default_factory=StagedDelivery)

    def refuse_file(self, problem: ExtractRefused) -> None:
        if not any(r["file"] == problem.file for r in self.refused_files):
            self.refused_files.append({"file": problem.file, "reason": problem.reason})
            log.warning("refused %s", problem)


def stage_delivery(con: duckdb.DuckDBPyConnection, extracts_dir: Path, config: Config) -> Delivery:
    """Parse every extract of `extracts_dir` into its staged table."""
    if not extracts_dir.is_dir():
        raise RunAborted(f"extracts folder not found: {extracts_dir}")
    found = discover_delivery(extracts_dir)
    if not found.files and not found.returns and config.ingest.get("require_any_extract", True):
        raise RunAborted(f"no extract files found in {extracts_dir}")
    delivery = Delivery()
    for problem in found.refused:
        delivery.refuse_file(problem)
    returns = NationalReturns(found.returns, delivery.staged)
    parser_version = parser_fingerprint(config)
    live = live_fingerprints(con)
    for table in load_contract():
        path = found.files.get(table)
        return_paths = returns.paths_for(table)
        if path is None and not return_paths:
            delivery.outcomes[table] = ExtractOutcome(table, None, "NOT_DELIVERED")
            continue
        sources = ([path] if path else []) + return_paths
        names = " + ".join(p.name for p in sources)
        # A CSV is read once: the bytes hashed here are the bytes parsed below.
        content = path.read_bytes() if path is not None and path.suffix.lower() == ".csv" else None
        hashes = [hashlib.sha256(content).hexdigest() if p == path and content is not None else file_sha256(p)
                  for p in sources]
        content_sha256 = hashes[0] if len(hashes) == 1 else hashlib.sha256(":".join(hashes).encode()).hexdigest()
        fingerprint = hashlib.sha256(f"{content_sha256}:{parser_version}".encode()).hexdigest()
        if table in live and live[table]["load_fingerprint"] == fingerprint:
            delivery.outcomes[table] = _unchanged(con, table, names, live[table], delivery.staged)
            continue
        try:
            parts = [parse_extract(path, table, config.agencies, content_sha256=hashes[0], content=content)] if path else []
            parts += [returns.parsed(p, table, config) for p in return_paths]
        except ExtractRefused as problem:
            delivery.outcomes[table] = ExtractOutcome(table, names, "REFUSED", problem.reason, content_sha256=content_sha256)
            delivery.refuse_file(problem)
            continue
        content = None  # the parsed rows hold what is needed from here on
        parsed = combine(parts)
        stage_table(con, table, parsed.data.drop("_line"))
        if parsed.quarantine.height:
            delivery.staged.quarantine.append(parsed.quarantine.with_columns(pl.lit(table).alias("table_name")))
            log.info("%s: %d rows quarantined", names, parsed.rows_quarantined)
        delivery.staged.identifier_issues[table] = parsed.identifier_issues
        delivery.outcomes[table] = ExtractOutcome(
            table,
            names,
            "LOADED",
            rows_read=parsed.rows_read,
            rows_loaded=parsed.rows_loaded,
            rows_quarantined=parsed.rows_quarantined,
            content_sha256=content_sha256,
            load_fingerprint=fingerprint,
        )
        if sum(o.status == "LOADED" for o in delivery.outcomes.values()) == 1:
            fault_point("mid:ingest")
    return delivery


class NationalReturns:
    """CIN census and SEN2 files of a delivery: read once, on first need, into contract tables."""

    def __init__(self, collections: dict[Path, str], staged: StagedDelivery):
        self._staged = staged
        self._extracts: dict[Path, object] = {}
        self._hashes: dict[Path, str] = {}
        self._tables = {path: RETURN_TABLES[collection] for path, collection in collections.items()}

    def paths_for(self, table: str) -> list[Path]:
        return [path for path, tables in self._tables.items() if table in tables]

    def parsed(self, path: Path, table: str, config: Config):
        extract = self._read(path)
        frame = extract.tables.get(table)
        if frame is None:
            frame = pl.DataFrame(schema={"_line": pl.Int64, **{c: pl.Utf8 for c in load_contract()[table].column_names}})
        raw_lines = {line: f"{path.name}: element at line {line}" for line in frame.get_column("_line").to_list()}
        return parse_source(table, path, frame, [], config.agencies, content_sha256=self._hash(path), raw_lines=raw_lines)

    def _hash(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = file_sha256(path)
        return self._hashes[path]

    def _read(self, path: Path):
        if path not in self._extracts:
            extract = read_return(path)  # ReturnRefused is an ExtractRefused
            self._extracts[path] = extract
            if extract.quarantine:
                # Whole records (a child, a person) that failed the return's own rules.
                primary = "ssd_person" if extract.collection == "CIN" else "agency_records"
                rows = [{"table_name": primary, "file": path.name, "line": q["line"], "column_name": q["column_name"],
                         "reason": q["reason"], "raw_line": q["raw_line"]} for q in extract.quarantine]
                self._staged.quarantine.append(pl.DataFrame(rows, schema={
                    "table_name": pl.Utf8, "file": pl.Utf8, "line": pl.Int64, "column_name": pl.Utf8,
                    "reason": pl.Utf8, "raw_line": pl.Utf8}))
        return self._extracts[path]


def parser_fingerprint(config: Config) -> str:
    """What else decides the loaded rows besides the file: the contract and the agency mapping."""
    basis = json.dumps({"schema": SCHEMA_SQL.read_text(), "agencies": sorted(config.agencies.items()),
                        "ingest": INGEST_VERSION})
    return hashlib.sha256(basis.encode()).hexdigest()


def _unchanged(con, table: str, names: str, previous: dict, staged: StagedDelivery) -> ExtractOutcome:
    """Same file as the live data: nothing is re-parsed; its quarantined rows are listed again."""
    carried = con.sql(
        "SELECT table_name, file, line, column_name, reason, raw_line FROM quarantine WHERE run_id = ? AND table_name = ?",
        params=[previous["run_id"], table],
    ).pl()
    if carried.height:
        staged.quarantine.append(carried)
    return ExtractOutcome(
        table, names, "UNCHANGED", "content unchanged since the last load",
        rows_read=previous["rows_read"] or 0, rows_loaded=previous["rows_loaded"] or 0,
        rows_quarantined=previous["rows_quarantined"] or 0, content_sha256=previous["content_sha256"],
        load_fingerprint=previous["load_fingerprint"],
    )
