"""The ingest stage: every extract of a delivery parsed into its staged table.

Nothing in the live tables changes here; publication (caseflags.store.publish) swaps the staged
tables in. An extract whose content and parser are unchanged since the live data was loaded is not
parsed again (UNCHANGED): its earlier quarantined rows are listed again. No input ends the run:
a file that cannot be read is refused by name (`stage_delivery`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from caseflags.config import Config
from caseflags.contracts.schema import load_contract
from caseflags.errors import RunAborted
from caseflags.faults import fault_point
from caseflags.ingest.ahead import StagedAhead, largest_plain_csv, load_fingerprint, one_thread_each
from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.database_source import DatabaseDelivery
from caseflags.ingest.delivery import discover_delivery, no_delivery_files
from caseflags.ingest.engine import EngineExtract, stage_csv_in_engine
from caseflags.ingest.extracts import combine, parse_extract, parse_source
from caseflags.ingest.merge_people import (
    PeopleOutcome,
    combine_people,
    quarantine_dependents,
    supersede_earlier_census,
)
from caseflags.ingest.returns.sources import PRIMARY_TABLE, ReadReturns, ReturnSource, read_returns
from caseflags.ingest.scan import DEFAULT_LIMITS, IngestLimits, scan_file
from caseflags.store.database import SCHEMA_SQL
from caseflags.store.ledger import ExtractOutcome, StagedDelivery, describe_unbalanced, ledger_entry, live_fingerprints
from caseflags.store.publish import STAGED_PREFIX, stage_table

log = logging.getLogger("caseflags")

# Bump when a change to ingest alters the rows it loads, so unchanged files are re-parsed.
INGEST_VERSION = 4  # 2: streaming readers, row-level duplicate keys, bounded raw lines; 3: returns of every year;
# 4: SSD exports (NULL literals, sqlcmd layout, UTF-16, sentinel dates, placeholders, role codes)


@dataclass
class Delivery:
    """What the ingest stage made of a delivery folder."""

    outcomes: dict[str, ExtractOutcome] = field(default_factory=dict)
    refused_files: list[dict] = field(default_factory=list)
    unused_files: list[dict] = field(default_factory=list)  # side files, named only
    returns: list[dict] = field(default_factory=list)  # per return: records read = loaded + quarantined
    staged: StagedDelivery = field(default_factory=StagedDelivery)

    def refuse_file(self, problem: ExtractRefused) -> None:
        if not any(r["file"] == problem.file for r in self.refused_files):
            self.refused_files.append({"file": problem.file, "reason": problem.reason})
            log.warning("refused %s", problem)


def stage_delivery(
    con: duckdb.DuckDBPyConnection,
    extracts_dir: Path | None,
    config: Config,
    on_first_change: Callable[[], None] | None = None,
    database: DatabaseDelivery | None = None,
) -> Delivery:
    """Parse every extract of `extracts_dir` into its staged table.

    `on_first_change` is called once, before the first table whose data changed is parsed (the
    runbook starts loading the contract stage's library then, so that it overlaps parsing).

    Reading never ends the run: any failure while reading one file (a refusal, or an error
    nobody foresaw) refuses that file by name with the reason, and the other files load. Each
    file's ledger (read = loaded + quarantined) is checked against the staged table itself.

    `database` (caseflags.ingest.database_source): the night's open snapshot of the authority's
    database; each contract table it holds is read from it, the others from `extracts_dir`
    (partner files; None when every table comes from the database).
    """
    if extracts_dir is not None and not extracts_dir.is_dir():
        raise RunAborted(f"extracts folder not found: {extracts_dir}")
    found = discover_delivery(extracts_dir) if extracts_dir is not None else no_delivery_files()
    delivery = Delivery()
    for problem in found.refused:
        delivery.refuse_file(problem)
    delivery.unused_files = [{"file": u.file, "reason": u.reason} for u in found.unused]
    # The national returns are read first, each on its own: a refused or truncated return is
    # named with its reason and only leaves its tables to the other sources.
    read = read_returns(found.returns)
    for name, reason in read.refused:
        delivery.refuse_file(ExtractRefused(name, reason))
    in_database = database.tables if database is not None else set()
    if not found.files and not read.extracts and not in_database and config.ingest.get("require_any_extract", True):
        if delivery.refused_files:
            reasons = "; ".join(f"{r['file']}: {r['reason']}" for r in delivery.refused_files)
            raise RunAborted(f"no usable extract or return in {extracts_dir} ({reasons})")
        raise RunAborted(f"no extract files found in {extracts_dir}")
    delivery.returns = read.ledger()
    warnings = read.warnings()
    if warnings.height:
        delivery.staged.warnings.append(warnings)
    limits = IngestLimits.from_config(config.ingest)
    returns = NationalReturns(read)
    parser_version = parser_fingerprint(config)
    live = live_fingerprints(con)
    on_first_change = _once(on_first_change)
    people = PeopleOutcome()  # children whose sources disagree: their dependent rows are quarantined too
    with one_thread_each(con):
        ahead = _start_largest_ahead(con, found, returns, in_database, limits, config, parser_version, live)
        try:
            for table in load_contract():
                path = found.files.get(table)
                return_paths = returns.paths_for(table)
                if table in in_database:  # read from the database; a file for it too is not used
                    if path is not None:
                        delivery.refuse_file(
                            ExtractRefused(path.name, f"not used: table {table} is read from {database.name}")
                        )
                    path = database.table(table)
                if path is None and not return_paths:
                    delivery.outcomes[table] = ExtractOutcome(table, None, "NOT_DELIVERED")
                    continue
                outcome = _stage_one_table(
                    con,
                    table,
                    path,
                    return_paths,
                    returns,
                    delivery,
                    config,
                    limits,
                    parser_version,
                    live,
                    on_first_change,
                    people,
                    ahead if ahead is not None and ahead.table == table else None,
                )
                delivery.outcomes[table] = outcome
                for entry in outcome.ledger:
                    if entry["balanced"] is False:
                        log.error("%s", describe_unbalanced(entry))
                if outcome.status == "LOADED" and sum(o.status == "LOADED" for o in delivery.outcomes.values()) == 1:
                    fault_point("mid:ingest")
        finally:
            if ahead is not None and not ahead.taken:
                ahead.abandon(con)  # the night stopped before its turn
    _settle_returns_ledger(delivery)
    return delivery


def _start_largest_ahead(con, found, returns, in_database, limits, config, parser_version, live) -> StagedAhead | None:
    """The largest plain CSV of the delivery, scanned and staged in a thread (`ahead.py`)."""
    largest = largest_plain_csv(found.files, lambda t: t not in in_database and not returns.paths_for(t))
    if largest is None:
        return None
    table, path = largest
    live_fingerprint = live[table]["load_fingerprint"] if table in live else None
    return StagedAhead.start(con, table, path, limits, config.agencies, parser_version, live_fingerprint)


def _settle_returns_ledger(delivery: Delivery) -> None:
    """Each return's records as they ended: a child quarantined because another source disagrees
    on who it is counts as quarantined, a child merged with another source's as loaded."""
    for entry in delivery.returns:
        outcome = delivery.outcomes.get(PRIMARY_TABLE.get(entry["collection"], ""))
        for load in outcome.ledger if outcome is not None else []:
            if load["file"] == entry["file"] and load["status"] == "LOADED" and load["read"] is not None:
                entry["records_loaded"], entry["records_quarantined"] = load["loaded"], load["quarantined"]
                entry["records_merged"] = load.get("merged", 0)


def _once(callback: Callable[[], None] | None) -> Callable[[], None]:
    """`callback` on the first call only (nothing at all when it is None)."""
    called = False

    def call_once() -> None:
        nonlocal called
        if callback is not None and not called:
            called = True
            callback()

    return call_once


def _read_failure(file: str, exc: Exception) -> ExtractRefused:
    """An error nobody foresaw while reading a file: the file is refused, by name; only the
    kind of error is kept (its message may quote the file's content)."""
    if isinstance(exc, MemoryError):
        return ExtractRefused(file, "unreadable: ran out of memory reading it (see [ingest] limits)")
    if isinstance(exc, OSError):
        return ExtractRefused(file, f"unreadable: the file could not be read ({type(exc).__name__})")
    return ExtractRefused(file, f"unreadable: reading failed ({type(exc).__name__})")


def _stage_one_table(
    con,
    table,
    path,
    return_paths,
    returns,
    delivery,
    config,
    limits,
    parser_version,
    live,
    on_first_change,
    people: PeopleOutcome | None = None,
    ahead: StagedAhead | None = None,
):
    """`ahead`: this table's file, already scanned and staged in a thread (its result is taken here)."""
    sources = ([path] if path else []) + return_paths
    names = " + ".join(p.name for p in sources)
    try:
        if ahead is not None:
            scan = ahead.scan()
        else:
            scan = scan_file(path) if isinstance(path, Path) else None  # one streaming pass: hash and shape
        # A database table streams its rows once here: their digest is its content hash.
        hashes = [(scan.sha256 if scan is not None else path.sha256) if p is path else returns.hash(p) for p in sources]
    except RunAborted:
        raise  # the database itself failed (connection lost): the night stops, nothing published
    except ExtractRefused as problem:  # a database table that cannot be loaded (a required column missing)
        delivery.refuse_file(problem)
        return _refused(table, names, problem.reason, None, [problem])
    except Exception as exc:  # noqa: BLE001 - reading one file never ends the run
        problem = _read_failure(path.name if path is not None else names, exc)
        delivery.refuse_file(problem)
        return _refused(table, names, problem.reason, None, [problem])
    content_sha256 = hashes[0] if len(hashes) == 1 else hashlib.sha256(":".join(hashes).encode()).hexdigest()
    fingerprint = load_fingerprint(content_sha256, parser_version)
    if table in live and live[table]["load_fingerprint"] == fingerprint:
        return _unchanged(con, table, names, live[table], delivery.staged)
    on_first_change()
    parts, problems = [], []
    for source in sources:
        try:
            if source is path and not isinstance(path, Path):
                parts.append(path.parsed(config.agencies, content_sha256=hashes[0], limits=limits))
            elif source == path:
                # The common night: a clean CSV typed by DuckDB straight into its staged table;
                # anything else (or a table also given by a return) through the exact reader.
                if return_paths:
                    engine = None
                elif ahead is not None:
                    engine = ahead.engine()
                else:
                    engine = stage_csv_in_engine(con, path, table, scan, limits, config.agencies, hashes[0])
                parts.append(
                    engine
                    or parse_extract(
                        path,
                        table,
                        config.agencies,
                        content_sha256=hashes[0],
                        scan=scan,
                        limits=limits,
                        role_codes=config.roles,
                    )
                )
            else:
                parts.append(returns.parsed(source, table, config, limits))
        except RunAborted:
            raise
        except duckdb.OutOfMemoryException as exc:
            # Not the file's fault, and the exact reader would need far more: the operator's to raise.
            raise RunAborted(
                f"DuckDB ran out of memory reading {source.name} within its limit: raise [limits] memory_limit_mib "
                "in the configuration (0: DuckDB's own default)"
            ) from exc
        except ExtractRefused as problem:
            problems.append(problem)
        except Exception as exc:  # noqa: BLE001 - reading one file never ends the run
            problems.append(_read_failure(source.name, exc))
    for problem in problems:
        delivery.refuse_file(problem)
    if not parts or (path is not None and any(p.file == path.name for p in problems)):
        # The table's own extract (or every source) was refused: the previous data stays.
        return _refused(table, names, "; ".join(p.reason for p in problems), content_sha256, problems)
    # Order of trust when sources give the same record: the CSV, then the latest census year.
    ranks = {p.file: (0 if path is not None and p.file == path.name else 1 + returns.recency(p.file)) for p in parts}
    if table == "ssd_person" and len(parts) > 1:
        # One child given by the CSV and a census, or by two census years: merged, or quarantined
        # with its dependent rows when the sources disagree on who the child is.
        parsed, found = combine_people(parts, ranks, limits)
        if people is not None:
            people.conflicts.update(found.conflicts)
    else:
        parts, merged = supersede_earlier_census(parts, ranks, people)
        parsed = combine(parts, limits)
        parsed.merged = merged
        if people is not None:
            parsed = quarantine_dependents(parsed, people, limits)
    untrustworthy = untrustworthy_reason(
        parsed.rows_read, parsed.rows_loaded + sum(parsed.merged.values()), float(config.ingest["min_loaded_fraction"])
    )
    if untrustworthy:
        return _refused_untrustworthy(table, names, parsed, untrustworthy, content_sha256, problems, delivery)
    if not (isinstance(parsed, EngineExtract) and parsed.staged):  # the engine's rows are staged already
        stage_table(con, table, parsed.rows())
    # fetchall: a result left half-read (fetchone) makes DuckDB refuse the next relation query
    # on this connection (an UNCHANGED table after a LOADED one: `_unchanged` → ResourceInUse).
    staged_rows = con.execute(f'SELECT count(*) FROM "{STAGED_PREFIX}{table}"').fetchall()[0][0]
    if parsed.quarantine.height:
        delivery.staged.quarantine.append(parsed.quarantine.with_columns(pl.lit(table).alias("table_name")))
        log.info("%s: %d rows quarantined", names, parsed.rows_quarantined)
    delivery.staged.identifier_issues[table] = parsed.identifier_issues
    if parsed.warnings.height:
        delivery.staged.warnings.append(parsed.warnings.with_columns(pl.lit(table).alias("table_name")))
        log.info("%s: %d values loaded as missing (data-quality warnings)", names, parsed.warnings.height)
    ledger = []
    for e in parsed.ledger():
        ledger.append(
            _with_extras(ledger_entry(e["file"], table, "LOADED", e["read"], e["loaded"], e["quarantined"]), parts)
        )
        if e.get("merged"):
            ledger[-1]["merged"] = e["merged"]  # loaded as part of another source's row of the same child
    ledger += [ledger_entry(p.file, table, "REFUSED", reason=p.reason) for p in problems]
    if staged_rows != parsed.rows_loaded:  # the store holds other than what was counted
        for entry in ledger:
            entry["balanced"], entry["staged"] = False, staged_rows
    return ExtractOutcome(
        table,
        names,
        "LOADED",
        rows_read=parsed.rows_read,
        rows_loaded=staged_rows + sum(parsed.merged.values()),  # a merged record is loaded, in one row
        rows_quarantined=parsed.rows_quarantined,
        content_sha256=content_sha256,
        # A source refused beside the loaded ones: no fingerprint, so the next night reads (and
        # names) it again rather than calling the table unchanged.
        load_fingerprint=None if problems else fingerprint,
        ledger=ledger,
    )


def untrustworthy_reason(read: int, loaded: int, min_fraction: float) -> str | None:
    """Why a table whose rows were read but almost none loaded cannot be trusted (None when it can)."""
    if read and loaded < min_fraction * read:
        return (
            f"untrustworthy: only {loaded} of {read} rows loaded (under {min_fraction:g} of those read; "
            f"[ingest] min_loaded_fraction); the rest are quarantined"
        )
    return None


def _with_extras(entry: dict, parts) -> dict:
    """A file's ledger entry with the values loaded as missing (NULL / SSD_PH, per column) and its
    delivered columns caseflags does not read ("not used")."""
    for part in parts:
        if part.file == entry["file"]:
            if part.missing_literals:
                entry["missing_literals"] = part.missing_literals
            if part.unused_columns:
                entry["not_used_columns"] = part.unused_columns
            if part.worker_names:
                entry["worker_names"] = part.worker_names
    return entry


def _refused_untrustworthy(table, names, parsed, reason, content_sha256, problems, delivery) -> ExtractOutcome:
    """Rows were read but almost none loaded: nothing of the delivery is published (the previous
    data, if any, stays live); its quarantined rows are listed so officers see why, and the rows
    that did parse are counted as withheld, so the ledger still balances."""
    if parsed.quarantine.height:
        delivery.staged.quarantine.append(parsed.quarantine.with_columns(pl.lit(table).alias("table_name")))
    delivery.refuse_file(ExtractRefused(names, reason))
    ledger = []
    for e in parsed.ledger():
        entry = ledger_entry(e["file"], table, "REFUSED", e["read"], 0, e["quarantined"], reason=reason)
        entry["withheld"] = e["loaded"]
        entry["balanced"] = e["read"] == e["loaded"] + e["quarantined"]
        ledger.append(entry)
    ledger += [ledger_entry(p.file, table, "REFUSED", reason=p.reason) for p in problems]
    return ExtractOutcome(
        table,
        names,
        "REFUSED",
        reason,
        rows_read=parsed.rows_read,
        rows_loaded=0,
        rows_quarantined=parsed.rows_quarantined,
        rows_withheld=parsed.rows_loaded + sum(parsed.merged.values()),
        content_sha256=content_sha256,
        ledger=ledger,
    )


def _refused(table, names, reason, content_sha256, problems) -> ExtractOutcome:
    ledger = [ledger_entry(p.file, table, "REFUSED", reason=p.reason) for p in problems]
    return ExtractOutcome(table, names, "REFUSED", reason, content_sha256=content_sha256, ledger=ledger)


class NationalReturns:
    """The CIN census and SEN2 returns of a delivery, already read (caseflags.ingest.returns.sources):
    each table's rows from each return, through the same parser, quarantine and ledger as a CSV."""

    def __init__(self, read: ReadReturns):
        self._read = read

    def paths_for(self, table: str) -> list[ReturnSource]:
        return [source for source, _ in self._read.for_table(table)]

    def hash(self, source: ReturnSource) -> str:
        return source.sha256

    def recency(self, name: str) -> int:
        """0 for the return of the latest census year, 1 for the one before, ... (a return not
        read last): the order of trust when returns give the same child."""
        years = sorted({e.year for e in self._read.extracts.values()}, reverse=True)
        extract = self._read.extracts.get(name)
        return years.index(extract.year) if extract is not None else len(years)

    def parsed(self, source: ReturnSource, table: str, config: Config, limits: IngestLimits = DEFAULT_LIMITS):
        """The return's own quarantined records (a child or person breaking the return's rules)
        count in its primary table: read = loaded + quarantined holds per return too."""
        extract = self._read.extracts[source.name]
        frame = extract.tables[table]
        raw_lines = {line: f"{source.name}: element at line {line}" for line in frame.get_column("_line").to_list()}
        unreadable = []
        if table == PRIMARY_TABLE[extract.collection]:
            unreadable = [
                {
                    "line": q["line"],
                    "column_name": q["column_name"],
                    "reason": q["reason"],
                    "record": q.get("record_line"),
                }
                for q in extract.quarantine
            ]
            raw_lines.update({q["line"]: q["raw_line"] for q in extract.quarantine})
        # Named by the return (an archive member keeps its `archive.zip:member` name).
        return parse_source(
            table,
            _Named(source.name),
            frame,
            unreadable,
            config.agencies,
            content_sha256=source.sha256,
            raw_lines=raw_lines,
            limits=limits,
        )


class _Named:
    """What parse_source needs of a path: the name a source is called by in every reason."""

    def __init__(self, name: str):
        self.name = name


def parser_fingerprint(config: Config) -> str:
    """What else decides the loaded rows besides the file: the contract and the agency mapping."""
    basis = json.dumps(
        {
            "schema": SCHEMA_SQL.read_text(),
            "agencies": sorted(config.agencies.items()),
            "roles": sorted(config.roles.items()),
            "ingest": INGEST_VERSION,
            "min_loaded_fraction": config.ingest.get("min_loaded_fraction"),
        }
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def _unchanged(con, table: str, names: str, previous: dict, staged: StagedDelivery) -> ExtractOutcome:
    """Same file as the live data: nothing is re-parsed; its quarantined rows are listed again."""
    carried = con.sql(
        "SELECT table_name, file, line, column_name, reason, raw_line, raw_length FROM quarantine "
        "WHERE run_id = ? AND table_name = ?",
        params=[previous["run_id"], table],
    ).pl()
    if carried.height:
        staged.quarantine.append(carried)
    read, loaded, quarantined = (previous[k] or 0 for k in ("rows_read", "rows_loaded", "rows_quarantined"))
    return ExtractOutcome(
        table,
        names,
        "UNCHANGED",
        "content unchanged since the last load",
        rows_read=read,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        content_sha256=previous["content_sha256"],
        load_fingerprint=previous["load_fingerprint"],
        ledger=[ledger_entry(names, table, "UNCHANGED", read, loaded, quarantined)],
    )
