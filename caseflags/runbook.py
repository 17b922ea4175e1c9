"""The nightly run as plain functions: the Prefect flow in `nightly.py` only sequences these.

Order: stage every extract into `_staged_<table>` → data-contract suites on the staged tables →
publish the tables that passed in ONE transaction (so a crash or a failure leaves the previous
good data in place) → link → checks → outputs. The run id is the as-at date: rerunning the same
as-at date replaces that run, so a rerun gives the same result.
"""

from __future__ import annotations

import csv
import json
import logging
import hashlib
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from caseflags.contracts.schema import load_contract
from caseflags.config import Config
from caseflags.ingest.extracts import ExtractRefused, combine, discover_delivery, file_sha256, parse_extract
from caseflags.private_files import private_dir, private_file
from caseflags.store.database import SCHEMA_SQL, create_staged_table, ensure_store

log = logging.getLogger("caseflags")

# Fault injection for the crash-safety tests: the process kills itself (SIGKILL, no cleanup) at
# the named point. Unset in normal operation.
FAULT_ENV = "CASEFLAGS_FAULT_AT"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)

STAGED_PREFIX = "_staged_"


class RunAborted(Exception):
    """The run could not start (no extracts, nothing loadable); one-line reason for the CLI."""


@dataclass
class ExtractOutcome:
    table: str
    file: str | None
    status: str  # LOADED | UNCHANGED | REFUSED | FAILED_CONTRACT | NOT_DELIVERED
    reason: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    content_sha256: str | None = None
    load_fingerprint: str | None = None
    stale: bool = False  # the store still holds an earlier delivery's data for this table


@dataclass
class RunState:
    run_id: str
    as_at: date
    extracts_dir: Path
    out_dir: Path
    started_at: datetime
    extracts: dict[str, ExtractOutcome] = field(default_factory=dict)
    refused_files: list[dict] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    contract_summary: dict = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    linkage: dict = field(default_factory=dict)
    retention: dict = field(default_factory=dict)

    def unavailable_tables(self) -> dict[str, str]:
        """Tables the checks may not trust this run, with the reason (→ "not evaluated")."""
        reasons = {}
        for table, outcome in self.extracts.items():
            if outcome.status == "NOT_DELIVERED":
                reasons[table] = "not delivered"
            elif outcome.status == "REFUSED":
                reasons[table] = f"refused: {outcome.reason}"
            elif outcome.status == "FAILED_CONTRACT":
                reasons[table] = f"failed its data contract: {outcome.reason}"
        return reasons


@contextmanager
def timed(state: RunState, stage: str) -> Iterator[None]:
    fault_point(f"before:{stage}")
    start = time.perf_counter()
    try:
        yield
    finally:
        state.stages[stage] = round(time.perf_counter() - start, 3)


def new_run(con: duckdb.DuckDBPyConnection, as_at: date, extracts_dir: Path, out_dir: Path) -> RunState:
    ensure_store(con)
    drop_staged_tables(con)  # left by a run that was killed mid-way
    state = RunState(
        run_id=as_at.isoformat(),
        as_at=as_at,
        extracts_dir=extracts_dir,
        out_dir=out_dir,
        started_at=datetime.now(timezone.utc).replace(tzinfo=None),
    )
    con.execute("DELETE FROM runs WHERE run_id = ?", [state.run_id])
    con.execute(
        "INSERT INTO runs (run_id, as_at, started_at, status) VALUES (?, ?, ?, 'RUNNING')",
        [state.run_id, as_at, state.started_at],
    )
    return state


def drop_staged_tables(con: duckdb.DuckDBPyConnection) -> None:
    staged = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [STAGED_PREFIX]
    ).fetchall()
    for (name,) in staged:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


# --- stage 1: ingest ------------------------------------------------------------------------


@dataclass
class StagedDelivery:
    quarantine: list[pl.DataFrame] = field(default_factory=list)
    identifier_issues: dict[str, pl.DataFrame] = field(default_factory=dict)


def stage_delivery(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> StagedDelivery:
    """Parse every extract into its staged table; nothing in the live tables changes yet."""
    if not state.extracts_dir.is_dir():
        raise RunAborted(f"extracts folder not found: {state.extracts_dir}")
    delivery = discover_delivery(state.extracts_dir)
    if not delivery.files and not delivery.returns and config.ingest.get("require_any_extract", True):
        raise RunAborted(f"no extract files found in {state.extracts_dir}")
    for problem in delivery.refused:
        _refuse_file(state, problem)
    returns = NationalReturns(delivery.returns, staged := StagedDelivery())
    parser_version = parser_fingerprint(config)
    live = live_fingerprints(con)
    for table in load_contract():
        path = delivery.files.get(table)
        return_paths = returns.paths_for(table)
        if path is None and not return_paths:
            state.extracts[table] = ExtractOutcome(table, None, "NOT_DELIVERED")
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
            state.extracts[table] = _unchanged(con, table, names, live[table], staged)
            continue
        try:
            parts = [parse_extract(path, table, config.agencies, content_sha256=hashes[0], content=content)] if path else []
            parts += [returns.parsed(p, table, config) for p in return_paths]
        except ExtractRefused as problem:
            state.extracts[table] = ExtractOutcome(table, names, "REFUSED", problem.reason, content_sha256=content_sha256)
            _refuse_file(state, problem)
            continue
        content = None  # the parsed rows hold what is needed from here on
        parsed = combine(parts)
        _stage_table(con, table, parsed.data.drop("_line"))
        if parsed.quarantine.height:
            staged.quarantine.append(parsed.quarantine.with_columns(pl.lit(table).alias("table_name")))
            log.info("%s: %d rows quarantined", names, parsed.rows_quarantined)
        staged.identifier_issues[table] = parsed.identifier_issues
        state.extracts[table] = ExtractOutcome(
            table,
            names,
            "LOADED",
            rows_read=parsed.rows_read,
            rows_loaded=parsed.rows_loaded,
            rows_quarantined=parsed.rows_quarantined,
            content_sha256=content_sha256,
            load_fingerprint=fingerprint,
        )
        if sum(o.status == "LOADED" for o in state.extracts.values()) == 1:
            fault_point("mid:ingest")
    return staged


def _refuse_file(state: RunState, problem: ExtractRefused) -> None:
    if not any(r["file"] == problem.file for r in state.refused_files):
        state.refused_files.append({"file": problem.file, "reason": problem.reason})
        log.warning("refused %s", problem)


def _stage_table(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
    staged_name = STAGED_PREFIX + table
    create_staged_table(con, table, staged_name)
    con.register("_incoming", rows)
    try:
        con.execute(f'INSERT INTO "{staged_name}" SELECT * FROM _incoming')
    finally:
        con.unregister("_incoming")


class NationalReturns:
    """CIN census and SEN2 files of a delivery: read once, on first need, into contract tables."""

    def __init__(self, collections: dict[Path, str], staged: StagedDelivery):
        from caseflags.ingest.returns.reader import RETURN_TABLES

        self._staged = staged
        self._extracts: dict[Path, object] = {}
        self._hashes: dict[Path, str] = {}
        self._tables = {path: RETURN_TABLES[collection] for path, collection in collections.items()}

    def paths_for(self, table: str) -> list[Path]:
        return [path for path, tables in self._tables.items() if table in tables]

    def parsed(self, path: Path, table: str, config: Config):
        from caseflags.ingest.extracts import parse_source

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
        from caseflags.ingest.returns.reader import read_return

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


# Bump when a change to ingest alters the rows it loads, so unchanged files are re-parsed.
INGEST_VERSION = 1


def live_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """The load record of the data each live table holds (latest LOADED or UNCHANGED)."""
    rows = con.execute(
        """
        SELECT table_name, run_id, file, rows_read, rows_loaded, rows_quarantined, content_sha256, load_fingerprint
        FROM extract_loads
        WHERE status IN ('LOADED', 'UNCHANGED')
        QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY delivered_as_at DESC, run_id DESC) = 1
        """
    ).fetchall()
    keys = ("run_id", "file", "rows_read", "rows_loaded", "rows_quarantined", "content_sha256", "load_fingerprint")
    return {row[0]: dict(zip(keys, row[1:])) for row in rows}


def _unchanged(con, table: str, names: str, previous: dict, staged: "StagedDelivery") -> ExtractOutcome:
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


# --- stage 2: data contracts -----------------------------------------------------------------


def check_contracts(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> list:
    """Great Expectations suites over each staged table; a blocking failure keeps old data."""
    from caseflags.contracts import suites

    loaded = [t for t, o in state.extracts.items() if o.status == "LOADED"]
    if not loaded:
        return []  # nothing new to guard (unchanged extracts passed when they were loaded)
    previous = previous_row_counts(con, loaded)
    results = suites.run_contract_suites(
        con,
        loaded,
        state.as_at,
        previous_row_counts=previous,
        min_row_fraction=config.contracts["min_row_fraction"],
        table_prefix=STAGED_PREFIX,
    )
    suites.store_contract_results(con, state.run_id, results)
    state.contract_summary = suites.summarise(results)
    for result in results:
        if result.blocking and not result.success:
            outcome = state.extracts[result.table_name]
            outcome.status = "FAILED_CONTRACT"
            detail = f"{result.expectation} on {result.column_name}" if result.column_name else result.expectation
            outcome.reason = detail if not outcome.reason else f"{outcome.reason}; {detail}"
    return results


def previous_row_counts(con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, int]:
    """Row counts of the data currently live, i.e. the previous good delivery."""
    counts = {}
    for table in tables:
        count = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if count:
            counts[table] = count
    return counts


# --- stage 3: publish --------------------------------------------------------------------------


def publish(con: duckdb.DuckDBPyConnection, state: RunState, staged: StagedDelivery) -> None:
    """Swap every table that passed into place, with its quarantine and load record, atomically."""
    con.execute("BEGIN TRANSACTION")
    try:
        swapped = 0
        for table, outcome in state.extracts.items():
            if outcome.status == "LOADED":
                con.execute(f'DROP TABLE "{table}"')
                con.execute(f'ALTER TABLE "{STAGED_PREFIX}{table}" RENAME TO "{table}"')
                swapped += 1
                if swapped == 1:
                    fault_point("mid:publish")
                con.execute("DELETE FROM identifier_issues WHERE table_name = ?", [table])
                issues = staged.identifier_issues.get(table)
                if issues is not None and issues.height:
                    con.register("_issues", issues)
                    con.execute("INSERT INTO identifier_issues BY NAME SELECT * FROM _issues")
                    con.unregister("_issues")
            else:
                con.execute(f'DROP TABLE IF EXISTS "{STAGED_PREFIX}{table}"')
                outcome.stale = outcome.status != "UNCHANGED" and _has_rows(con, table)
        con.execute("DELETE FROM quarantine WHERE run_id = ?", [state.run_id])
        if staged.quarantine:
            columns = ["table_name", "file", "line", "column_name", "reason", "raw_line"]
            frame = pl.concat([q.select(columns) for q in staged.quarantine]).with_columns(
                pl.lit(state.run_id).alias("run_id")
            )
            con.register("_quarantine", frame)
            con.execute("INSERT INTO quarantine BY NAME SELECT * FROM _quarantine")
            con.unregister("_quarantine")
        con.execute("DELETE FROM extract_loads WHERE run_id = ?", [state.run_id])
        for outcome in state.extracts.values():
            fresh = outcome.status in ("LOADED", "UNCHANGED")
            delivered = state.as_at if fresh else _last_delivered(con, outcome.table)
            con.execute(
                """INSERT INTO extract_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [state.run_id, outcome.table, outcome.file, outcome.status, outcome.reason, outcome.rows_read,
                 outcome.rows_loaded, outcome.rows_quarantined, outcome.content_sha256, outcome.load_fingerprint,
                 delivered],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]


def _last_delivered(con: duckdb.DuckDBPyConnection, table: str) -> date | None:
    row = con.execute(
        "SELECT max(delivered_as_at) FROM extract_loads WHERE table_name = ? AND status IN ('LOADED', 'UNCHANGED')",
        [table],
    ).fetchone()
    return row[0] if row else None


# --- stage 4 and 5: link, checks -------------------------------------------------------------


# What linkage reads: when none of it changed since the last linkage, its results stand.
LINKAGE_INPUTS = ("ssd_person", "ssd_address", "ssd_linked_identifiers", "agency_records")


def link(con: duckdb.DuckDBPyConnection, state: RunState, config: Config, db_path: Path | None) -> dict:
    from caseflags.linkage.people import link_people

    model_path = None if db_path is None else db_path.with_suffix(".linkage-model.json")
    fingerprint = linkage_fingerprint(con, config, model_path)
    previous = con.execute("SELECT fingerprint, summary_json FROM linkage_state ORDER BY linked_at DESC LIMIT 1").fetchone()
    if fingerprint is not None and previous and previous[0] == fingerprint and not config.linkage["retrain"]:
        state.linkage = {**json.loads(previous[1]), "model": "unchanged inputs: previous links kept"}
        return state.linkage
    summary = link_people(
        con,
        match_threshold=config.linkage["match_threshold"],
        review_threshold=config.linkage["review_threshold"],
        model_path=model_path,
        retrain=config.linkage["retrain"],
    )
    state.linkage = _plain(summary)
    con.execute("DELETE FROM linkage_state")
    con.execute(
        "INSERT INTO linkage_state VALUES (?, ?, ?)",
        [linkage_fingerprint(con, config, model_path), datetime.now(timezone.utc).replace(tzinfo=None),
         json.dumps(state.linkage)],
    )
    return state.linkage


def linkage_fingerprint(con: duckdb.DuckDBPyConnection, config: Config, model_path: Path | None) -> str | None:
    """The live inputs' load fingerprints, officers' decisions, thresholds and model file; None
    when an input's provenance is unknown (then linkage always runs)."""
    live = live_fingerprints(con)
    if any(table not in live for table in LINKAGE_INPUTS):
        return None
    decisions = con.execute("SELECT count(*), max(decision_seq) FROM link_decisions").fetchone()
    model = file_sha256(model_path) if model_path is not None and model_path.exists() else None
    basis = {
        "inputs": [live[t]["load_fingerprint"] for t in LINKAGE_INPUTS],
        "decisions": list(decisions),
        "thresholds": [config.linkage["match_threshold"], config.linkage["review_threshold"]],
        "model": model,
    }
    return hashlib.sha256(json.dumps(basis, default=str).encode()).hexdigest()


def run_checks(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> list[dict]:
    from caseflags.checking.runner import run_all_checks

    outcomes = run_all_checks(
        con,
        state.run_id,
        state.as_at,
        thresholds_by_check=config.checks,
        unavailable_tables=state.unavailable_tables(),
    )
    state.checks = [_plain(o) for o in outcomes]
    return state.checks


def _plain(value) -> dict:
    if hasattr(value, "__dataclass_fields__"):
        return {k: (str(v) if isinstance(v, (date, Path)) else v) for k, v in asdict(value).items()}
    return dict(value) if isinstance(value, dict) else {"value": str(value)}


# --- stage 6: outputs --------------------------------------------------------------------------


def write_quarantine_csv(con: duckdb.DuckDBPyConnection, state: RunState, run_dir: Path) -> Path:
    path = run_dir / "quarantine.csv"
    rows = con.execute(
        """SELECT file, line, column_name AS column, reason, raw_line
           FROM quarantine WHERE run_id = ? ORDER BY file, line, column_name""",
        [state.run_id],
    ).fetchall()
    with private_file(path, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "column", "reason", "raw_line"])
        writer.writerows(rows)
    return path


def run_record(state: RunState, finished_at: datetime, status: str) -> dict:
    return {
        "run_id": state.run_id,
        "as_at": state.as_at.isoformat(),
        "status": status,
        "started_at": state.started_at.isoformat(timespec="seconds") + "Z",
        "finished_at": finished_at.isoformat(timespec="seconds") + "Z",
        "extracts": {
            table: {
                "file": o.file,
                "status": o.status,
                "reason": o.reason,
                "stale": o.stale,
                "rows_read": o.rows_read,
                "rows_loaded": o.rows_loaded,
                "rows_quarantined": o.rows_quarantined,
                "content_sha256": o.content_sha256,
            }
            for table, o in state.extracts.items()
        },
        "refused_files": state.refused_files,
        "stage_seconds": state.stages,
        "data_contracts": state.contract_summary,
        "linkage": state.linkage,
        "retention_pruned": state.retention,
        "checks": {
            c["check_id"]: {"status": c["status"], "reason": c.get("reason"), "exceptions": c.get("exception_count")}
            for c in state.checks
        },
    }


def finish_run(con: duckdb.DuckDBPyConnection, state: RunState, run_dir: Path, status: str = "COMPLETED") -> dict:
    finished_at = datetime.now(timezone.utc).replace(tzinfo=None)
    record = run_record(state, finished_at, status)
    with private_file(run_dir / "run.json", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, stages_json = ?, extracts_json = ? WHERE run_id = ?",
        [finished_at, status, json.dumps(state.stages), json.dumps(record["extracts"]), state.run_id],
    )
    return record


def write_outputs(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> Path:
    """Exception lifecycle, then every file of `<out>/<as-at>/` except run.json (written last)."""
    from caseflags.outputs import exceptions as outputs
    from caseflags.checking.good_practice import good_practice

    run_dir = private_dir(private_dir(state.out_dir) / state.as_at.isoformat())
    if config.retention["archive_dir"]:
        archive_delivery(state, Path(config.retention["archive_dir"]))
    state.retention = apply_retention(con, state, config)
    outputs.update_lifecycle(con, state.run_id, state.as_at)
    practice = good_practice(con, state.as_at)
    outputs.write_run_outputs(con, state.run_id, state.as_at, run_dir, good_practice_rows=practice)
    write_quarantine_csv(con, state, run_dir)
    return run_dir


def run_without_prefect(
    con: duckdb.DuckDBPyConnection,
    extracts_dir: Path,
    as_at: date,
    out_dir: Path,
    config: Config,
    db_path: Path | None = None,
) -> dict:
    """The same stages as the `nightly` flow, called directly (tests, benchmarks)."""
    state = new_run(con, as_at, extracts_dir, out_dir)
    with timed(state, "ingest"):
        staged = stage_delivery(con, state, config)
    with timed(state, "contracts"):
        check_contracts(con, state, config)
        publish(con, state, staged)
    with timed(state, "link"):
        link(con, state, config, db_path)
    with timed(state, "checks"):
        run_checks(con, state, config)
    with timed(state, "outputs"):
        run_dir = write_outputs(con, state, config)
    fault_point("before:finish")
    return finish_run(con, state, run_dir)


def archived_deliveries(archive: Path, first: date, last: date) -> list[tuple[date, Path]]:
    """Delivery folders named YYYY-MM-DD within [first, last], oldest first (for backfill)."""
    found = []
    for folder in archive.iterdir():
        if not folder.is_dir():
            continue
        try:
            as_at = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if first <= as_at <= last:
            found.append((as_at, folder))
    return sorted(found)


# --- retention --------------------------------------------------------------------------------

# Per-run history tables pruned by retention, and the column naming the run.
RUN_HISTORY_TABLES = ("exceptions", "check_runs", "quarantine", "contract_results", "exception_history", "lifecycle_runs")


def archive_delivery(state: RunState, archive_dir: Path) -> Path:
    """Keep a copy of the night's delivery (owner-only) so history can be rebuilt by backfill."""
    import shutil

    target = private_dir(archive_dir) / state.as_at.isoformat()
    if target.resolve() == state.extracts_dir.resolve():
        return target  # a backfill reading from the archive itself
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(state.extracts_dir, staging, ignore=shutil.ignore_patterns(".*", "~$*"))
    for path in [staging, *staging.rglob("*")]:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def apply_retention(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> dict:
    """Drop run history, report folders and archived deliveries older than the configured ages.

    The load record of the data still live is kept whatever its age, so incremental loads keep
    working for a table that has not changed in years.
    """
    import shutil
    from datetime import timedelta

    keep_runs = config.retention["keep_runs_days"]
    keep_deliveries = config.retention["keep_deliveries_days"]
    runs_before = state.as_at - timedelta(days=keep_runs)
    old_runs = [r[0] for r in con.execute("SELECT run_id FROM runs WHERE as_at < ?", [runs_before]).fetchall()]
    pruned = {"runs": len(old_runs), "report_folders": 0, "archived_deliveries": 0}
    if old_runs:
        present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        con.execute("BEGIN TRANSACTION")
        try:
            for table in RUN_HISTORY_TABLES:
                if table in present:
                    con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, run_id)', [old_runs])
            con.execute(
                """
                DELETE FROM extract_loads
                WHERE list_contains($old, run_id)
                  AND (table_name, run_id) NOT IN (
                      SELECT table_name, run_id FROM extract_loads
                      WHERE status IN ('LOADED', 'UNCHANGED')
                      QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY delivered_as_at DESC, run_id DESC) = 1
                  )
                """,
                {"old": old_runs},
            )
            con.execute("DELETE FROM runs WHERE list_contains(?, run_id)", [old_runs])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    pruned["report_folders"] = _remove_dated_folders(state.out_dir, runs_before, shutil)
    archive = config.retention["archive_dir"]
    if archive:
        deliveries_before = state.as_at - timedelta(days=keep_deliveries)
        pruned["archived_deliveries"] = _remove_dated_folders(Path(archive), deliveries_before, shutil)
    return pruned


def _remove_dated_folders(parent: Path, before: date, shutil) -> int:
    removed = 0
    if not parent.is_dir():
        return 0
    for folder in parent.iterdir():
        try:
            dated = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and dated < before:
            shutil.rmtree(folder)
            removed += 1
    return removed
