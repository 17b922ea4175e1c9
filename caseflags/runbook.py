"""The nightly runbook: the ordered list of stages, used by the Prefect flow and by direct calls.

    ingest    → every extract parsed into a staged table (caseflags.ingest.stage)
    contracts → data-contract suites on the staged tables, then publication of those that passed
                in ONE transaction (caseflags.contracts.stage, caseflags.store.publish)
    carry     → what officers saved in the web workspace since the last carry: link decisions,
                reviews, assignments and audit work (caseflags.workspace)
    link      → the person index (caseflags.linkage.stage)
    checks    → every check of the catalogue (caseflags.checking.runner)
    outputs   → archive, retention, exception lifecycle and report files (caseflags.outputs.stage)

then the web snapshot (caseflags.outputs.snapshot), run.json and the run row. The stage
functions take values (a connection, an as-at date, the workspace marks,
paths, thresholds); only the steps below read and write the run record. The run id is the as-at
date: rerunning the same as-at date replaces that run, so a rerun gives the same result.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from caseflags.checking.runner import run_all_checks
from caseflags.config import Config
from caseflags.contracts.keys import UNIQUE_KEYS
from caseflags.contracts.stage import check_contracts
from caseflags.contracts.suites import import_gx_in_background
from caseflags.digests import file_sha256
from caseflags.errors import RunAborted, RunFailed
from caseflags.faults import FAULT_ENV, fault_point
from caseflags.ingest.database_source import open_database
from caseflags.ingest.stage import stage_delivery
from caseflags.linkage.people import MODEL_SUFFIX
from caseflags.linkage.stage import LINKAGE_INPUTS, changed_share, retrain_linkage_reason
from caseflags.linkage.stage import link as link_people
from caseflags.outputs.reuse import ReusedResults, forget_results, record_results, results_basis, reusable_results
from caseflags.outputs.snapshot import publish_snapshot, remove_orphaned_temp_files, snapshot_is_current
from caseflags.outputs.stage import write_outputs
from caseflags.peak_memory import PeakRss
from caseflags.private_files import private_file
from caseflags.store.changes import detect_row_changes
from caseflags.store.database import apply_memory_limit, ensure_store, store_path
from caseflags.store.ledger import ExtractOutcome, StagedDelivery, run_ledger, unbalanced
from caseflags.store.publish import STAGED_PREFIX, drop_staged_tables, publish
from caseflags.store.retention import apply_retention, archive_delivery, archived_deliveries
from caseflags.workspace.carry import carry_link_decisions, carry_web_assignments, carry_web_reviews, workspace_marks
from caseflags.workspace.carry_audit import carry_web_audit

__all__ = [
    "FAULT_ENV",
    "RunAborted",
    "RunFailed",
    "RunState",
    "STAGES",
    "archived_deliveries",
    "new_run",
    "run_stages",
    "run_without_prefect",
]


@dataclass
class RunState:
    """The record of one run, filled in stage by stage; becomes run.json and the run row."""

    run_id: str
    as_at: date
    extracts_dir: Path | None  # the delivery folder (None: every table from the database `source`)
    out_dir: Path
    started_at: datetime
    db_path: Path | None = None
    extracts: dict[str, ExtractOutcome] = field(default_factory=dict)
    refused_files: list[dict] = field(default_factory=list)
    unused_files: list[dict] = field(default_factory=list)
    returns: list[dict] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    stage_peak_rss_mib: dict[str, float] = field(default_factory=dict)  # each stage's peak resident memory
    duckdb_memory_limit: str | None = None  # DuckDB's memory limit for the night, as DuckDB states it
    contract_summary: dict = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    linkage: dict = field(default_factory=dict)
    retention: dict = field(default_factory=dict)
    staged: StagedDelivery = field(default_factory=StagedDelivery)  # between ingest and publication
    run_dir: Path | None = None
    delivery: dict = field(default_factory=dict)  # folder, file count and digest (delivery_digest)
    results_basis: str | None = None  # what the checks and outputs read (outputs.reuse)
    reused: ReusedResults | None = None  # an earlier run's results kept: nothing they read changed
    workspace_marks: dict = field(default_factory=dict)  # the web workspace's newest rows, read before carrying
    audit_carried: int = 0  # audit samples, marks and outcomes carried from the web workspace
    source: str | None = None  # the authority's database (`--source` URL, never holding a password)
    row_changes: dict[str, dict] = field(default_factory=dict)  # per table: rows new / changed / gone (store.changes)

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


def new_run(
    con: duckdb.DuckDBPyConnection,
    as_at: date,
    extracts_dir: Path | None,
    out_dir: Path,
    db_path: Path | None = None,
    source: str | None = None,
) -> RunState:
    ensure_store(con)
    drop_staged_tables(con)  # left by a run that was killed mid-way
    store_file = db_path or store_path(con)
    if store_file is not None:
        remove_orphaned_temp_files(store_file)  # copies of the store left by a publish that was killed
    state = RunState(
        run_id=as_at.isoformat(),
        as_at=as_at,
        extracts_dir=extracts_dir,
        out_dir=out_dir,
        started_at=datetime.now(UTC).replace(tzinfo=None),
        db_path=db_path,
        source=source,
    )
    con.execute("DELETE FROM runs WHERE run_id = ?", [state.run_id])
    con.execute(
        "INSERT INTO runs (run_id, as_at, started_at, status) VALUES (?, ?, ?, 'RUNNING')",
        [state.run_id, as_at, state.started_at],
    )
    return state


# --- the steps: each reads what it needs from the run record and records what it found ----------


def ingest(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    if state.source is not None:  # one read-only REPEATABLE READ transaction for every table
        with open_database(state.source, config.ingest) as database:
            delivery = stage_delivery(
                con, state.extracts_dir, config, on_first_change=import_gx_in_background, database=database
            )
        state.delivery = source_digest(database.describe(), state.extracts_dir)
    else:
        delivery = stage_delivery(con, state.extracts_dir, config, on_first_change=import_gx_in_background)
    state.extracts, state.refused_files, state.staged = delivery.outcomes, delivery.refused_files, delivery.staged
    state.unused_files, state.returns = delivery.unused_files, delivery.returns


def contracts(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    loaded = [table for table, outcome in state.extracts.items() if outcome.status == "LOADED"]
    verdict = check_contracts(
        con, state.run_id, state.as_at, loaded, config.contracts["min_row_fraction"], STAGED_PREFIX
    )
    if loaded:
        state.contract_summary = verdict.summary
    for table, reason in verdict.failed.items():
        outcome = state.extracts[table]
        outcome.status = "FAILED_CONTRACT"
        outcome.reason = reason if not outcome.reason else f"{outcome.reason}; {reason}"
        outcome.withhold()  # nothing of it is published: its rows are withheld, not loaded

    def count_row_changes() -> None:
        state.row_changes = detect_row_changes(con, state.run_id, state.extracts, UNIQUE_KEYS)

    publish(con, state.run_id, state.as_at, state.extracts, state.staged, before_commit=count_row_changes)
    state.staged = StagedDelivery()


def carry(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    """What officers saved in the browser, into the store: before linkage, so their confirm /
    reject decisions apply this run, and before the checks' results basis, which records the marks."""
    state.workspace_marks = workspace_marks(con)  # read first: anything saved later is carried next run
    carry_link_decisions(con)
    carry_web_reviews(con)  # as a workbook import would
    carry_web_assignments(con)  # who each exception is assigned to, for the workbook
    audit = carry_web_audit(con)  # samples, audit marks and outcomes
    state.audit_carried = sum(count for kind, count in audit.items() if kind != "marks_refused")


def link(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    model_path = None if state.db_path is None else state.db_path.resolve().with_suffix(MODEL_SUFFIX)
    changed = changed_share(state.row_changes, LINKAGE_INPUTS)
    retrain_reason = retrain_linkage_reason(config.linkage, changed)
    state.linkage = link_people(
        con,
        match_threshold=config.linkage["match_threshold"],
        review_threshold=config.linkage["review_threshold"],
        retrain=retrain_reason is not None,
        model_path=model_path,
    )
    state.linkage["changed_share"] = changed
    state.linkage["retrain_reason"] = retrain_reason


def checks(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    state.results_basis = results_basis(
        con, state.run_id, state.as_at, state.extracts, state.out_dir, config, state.workspace_marks
    )
    state.reused = reusable_results(con, state.run_id, state.results_basis)
    if state.reused is not None:
        state.checks = state.reused.checks  # its exceptions rows are this run id's already
        return
    forget_results(con, state.run_id)  # about to be replaced
    outcomes = run_all_checks(
        con,
        state.run_id,
        state.as_at,
        thresholds_by_check=config.checks,
        unavailable_tables=state.unavailable_tables(),
    )
    state.checks = [{k: (str(v) if isinstance(v, (date, Path)) else v) for k, v in asdict(o).items()} for o in outcomes]


def outputs(con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    if state.reused is not None:  # its files are intact (checked): archive and retention were done then
        state.run_dir, state.retention, state.delivery = (
            state.reused.run_dir,
            state.reused.retention,
            state.reused.delivery,
        )
        return
    retention = config.retention
    archive = Path(retention["archive_dir"]) if retention["archive_dir"] else None
    if archive is not None and state.extracts_dir is not None:  # the database keeps its own tables
        archive_delivery(state.extracts_dir, state.as_at, archive)
    state.retention = apply_retention(
        con,
        state.as_at,
        state.out_dir,
        retention["keep_runs_days"],
        archive,
        retention["keep_deliveries_days"],
        current_run_id=state.run_id,
        keep_last_runs=retention["keep_last_runs"],
    )
    state.delivery = state.delivery or delivery_digest(state.extracts_dir)
    state.run_dir = write_outputs(
        con,
        state.run_id,
        state.as_at,
        state.out_dir,
        delivery=state.delivery,
        refused_files=state.refused_files,
        priority=config.priority,
    )


@dataclass(frozen=True)
class Stage:
    name: str
    step: Callable[[duckdb.DuckDBPyConnection, RunState, Config], None]
    retries: int = 0  # how often the Prefect flow retries the step (reading and writing files)


STAGES: tuple[Stage, ...] = (
    Stage("ingest", ingest, retries=2),
    Stage("contracts", contracts),
    Stage("carry", carry, retries=2),  # reads the workspace (SQLite busy wait); carrying twice carries nothing
    Stage("link", link),
    Stage("checks", checks),
    Stage("outputs", outputs, retries=2),
)

StageCaller = Callable[[Stage, duckdb.DuckDBPyConnection, RunState, Config], None]


def timed_step(stage: Stage, con: duckdb.DuckDBPyConnection, state: RunState, config: Config) -> None:
    with timed(state, stage.name):
        stage.step(con, state, config)


@contextmanager
def timed(state: RunState, stage: str) -> Iterator[None]:
    fault_point(f"before:{stage}")
    start = time.perf_counter()
    peak = PeakRss()
    try:
        with peak:
            yield
    finally:
        state.stages[stage] = round(time.perf_counter() - start, 3)
        state.stage_peak_rss_mib[stage] = peak.mib


def run_stages(con: duckdb.DuckDBPyConnection, state: RunState, config: Config, call: StageCaller = timed_step) -> dict:
    """Every stage in order, then run.json and the run row. `call` runs one stage (the Prefect
    flow passes one that runs it as a task)."""
    # DuckDB's memory, the store's and linkage's private database's alike (linkage/private_db.py).
    apply_memory_limit(con, config.limits.get("memory_limit_mib", 0))
    state.duckdb_memory_limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    for stage in STAGES:
        try:
            call(stage, con, state, config)
        except Exception as exc:
            # Reading never raises (a bad file is refused by name), so this is a failure outside
            # reading: the run row is marked FAILED, staged tables dropped, one line for the CLI.
            mark_failed(con, state, stage.name, exc)
            if isinstance(exc, (RunAborted, OSError, duckdb.Error)):
                raise  # the command line names these precisely (disk full, read-only, …: failures.py)
            raise RunFailed(
                f"run {state.run_id} failed in the {stage.name} stage ({type(exc).__name__}); "
                "it is marked FAILED and the live tables keep the last published data"
            ) from exc
    fault_point("before:finish")
    try:
        return finish_run(con, state)
    except Exception as exc:
        # Publishing the web snapshot is part of completing the night: a failure there (disk
        # full, ...) leaves the run FAILED, never COMPLETED, and the rerun publishes again.
        mark_failed(con, state, "publish", exc)
        raise


def mark_failed(con: duckdb.DuckDBPyConnection, state: RunState, stage: str, exc: BaseException) -> None:
    """Best effort: the run row says FAILED (with the stage), no staged table is left behind."""
    try:
        if con.execute("SELECT txid_current()").fetchone() == con.execute("SELECT txid_current()").fetchone():
            con.execute("ROLLBACK")  # a transaction left open by the failing stage
    except Exception:  # noqa: BLE001 - the connection itself may be what failed
        pass
    try:
        drop_staged_tables(con)
        con.execute(
            "UPDATE runs SET finished_at = ?, status = 'FAILED', stages_json = ? WHERE run_id = ?",
            [
                datetime.now(UTC).replace(tzinfo=None),
                json.dumps({**state.stages, "failed_stage": stage, "error": type(exc).__name__}),
                state.run_id,
            ],
        )
    except Exception:  # noqa: BLE001 - nothing more can be recorded; the CLI still says why
        pass


def run_without_prefect(
    con: duckdb.DuckDBPyConnection,
    extracts_dir: Path,
    as_at: date,
    out_dir: Path,
    config: Config,
    db_path: Path | None = None,
    source: str | None = None,
) -> dict:
    """The nightly run called directly (tests, benchmarks): the same STAGES as the flow."""
    return run_stages(con, new_run(con, as_at, extracts_dir, out_dir, db_path, source=source), config)


# --- the run record ------------------------------------------------------------------------------


def delivery_digest(folder: Path) -> dict:
    """The delivery folder loaded, and a SHA-256 over the relative name and content hash of each
    of its files (hidden files left out), so run.json and the report say exactly what was read."""
    folder = Path(folder).resolve()
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return {"folder": str(folder), "files": len(files), "digest": digest.hexdigest()}


def source_digest(database: dict, folder: Path | None) -> dict:
    """What a night read from the database (and the partner files beside it): the source named
    without credentials, one SHA-256 over the tables' row digests and the folder's digest."""
    files = delivery_digest(folder) if folder is not None else None
    digest = hashlib.sha256(database["tables_digest"].encode())
    if files is not None:
        digest.update(files["digest"].encode())
    return {
        "folder": database["source"] + (f" + {files['folder']}" if files else ""),
        "files": database["tables"] + (files["files"] if files else 0),
        "digest": digest.hexdigest(),
        "source": database["source"],
        "source_tables": database["tables"],
        "source_tables_digest": database["tables_digest"],
        "extracts_folder": files,
    }


def run_record(state: RunState, finished_at: datetime, status: str) -> dict:
    ledger = run_ledger(state.extracts)
    return {
        "run_id": state.run_id,
        "as_at": state.as_at.isoformat(),
        "status": status,
        "delivery": state.delivery or delivery_digest(state.extracts_dir),
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
                "rows_withheld": o.rows_withheld,
                "content_sha256": o.content_sha256,
            }
            for table, o in state.extracts.items()
        },
        "ledger": ledger,
        "ledger_balanced": not unbalanced(ledger),
        "row_changes": state.row_changes,
        "refused_files": state.refused_files,
        "unused_files": state.unused_files,
        "returns": state.returns,
        "stage_seconds": state.stages,
        "stage_peak_rss_mib": state.stage_peak_rss_mib,
        "duckdb_memory_limit": state.duckdb_memory_limit,
        "data_contracts": state.contract_summary,
        "linkage": state.linkage,
        "retention_pruned": state.retention,
        "reused_results": state.reused.describe() if state.reused is not None else None,
        "checks": {
            c["check_id"]: {"status": c["status"], "reason": c.get("reason"), "exceptions": c.get("exception_count")}
            for c in state.checks
        },
    }


def finish_run(con: duckdb.DuckDBPyConnection, state: RunState, status: str = "COMPLETED") -> dict:
    """Complete the night: record its results, publish the web snapshot, then run.json and the
    run row. The run is COMPLETED only once its snapshot is in place: killed or out of disk while
    publishing, the row still says RUNNING (or FAILED) and the rerun publishes again."""
    finished_at = datetime.now(UTC).replace(tzinfo=None)
    record = run_record(state, finished_at, status)
    if status == "COMPLETED":
        if state.reused is None and state.results_basis is not None:
            record_results(
                con, state.run_id, state.results_basis, state.run_dir, state.checks, state.retention, record["delivery"]
            )
        # The web workspace reads this copy, never the store itself. Reused results are in it
        # already unless it is older than the last completed run (missing, or a publish that
        # did not finish): then, and after any fresh results, it is published again.
        if state.reused is None or state.audit_carried or not snapshot_is_current(con, state.run_id):
            fault_point("before:snapshot")
            publish_snapshot(con, completing_run=(state.run_id, finished_at))
    with private_file(state.run_dir / "run.json", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, stages_json = ?, extracts_json = ? WHERE run_id = ?",
        [
            finished_at,
            status,
            json.dumps({**state.stages, "row_changes": state.row_changes}),
            json.dumps(record["extracts"]),
            state.run_id,
        ],
    )
    return record
