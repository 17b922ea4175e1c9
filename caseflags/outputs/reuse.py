"""A rerun that would compute nothing new keeps what the last one computed.

A run's checks and output files are a function of: the as-at date, the data each live table
holds (its load fingerprint: file hash + parser version) and the status of every extract, the
person index (the linkage fingerprint), the reviews and decisions of officers (the store's
`annotations` and `link_decisions`, and what the web workspace holds but has not yet carried),
the other runs in the lifecycle and the run history (what "previous run" and the trends mean),
the whole configuration, the code (package modules, check catalogue, SQL) and the reports
folder. `results_basis` is a SHA-256 over exactly these. When a run of the same as-at date
completed with an equal basis, and every file of its run folder is still as it wrote it, the
checks and outputs stages keep its results (`reusable_results`) and run.json says so
(`reused_results`); anything else, down to one review saved in the browser or one edited
report file, and they run in full.

This is what makes an unchanged rerun (a retry after a failure elsewhere, an operator's second
try) cost the hashing of the files and nothing more: `bench/RESULTS.md`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import duckdb

import caseflags
from caseflags.config import Config
from caseflags.digests import file_sha256
from caseflags.resources import CATALOGUE_DIR, SQL_DIR, sql_text
from caseflags.store.database import ensure_store
from caseflags.store.ledger import ExtractOutcome, live_fingerprints

# Statuses whose table holds this delivery's data (the content is in the load fingerprint).
_CURRENT = {"LOADED", "UNCHANGED"}
RUN_RECORD = "run.json"  # written after the outputs by the runbook, so never part of the manifest


@dataclass(frozen=True)
class ReusedResults:
    """The results of an earlier completed run of the same as-at date, kept as they are."""

    completed_at: datetime
    run_dir: Path
    checks: list[dict]
    retention: dict
    delivery: dict

    def describe(self) -> dict:
        return {
            "from_run_completed_at": self.completed_at.isoformat(timespec="seconds") + "Z",
            "reason": "inputs, reviews, configuration and code unchanged since that run; its checks and files stand",
        }


@lru_cache(maxsize=1)
def code_digest() -> str:
    """The package's modules, the check catalogue and the SQL (an upgrade changes results)."""
    digest = hashlib.sha256(caseflags.__version__.encode())
    roots = [Path(caseflags.__file__).resolve().parent, CATALOGUE_DIR, SQL_DIR]
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.suffix in (".py", ".sql", ".toml") and p.is_file()):
            digest.update(f"{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _config_digest(config: Config) -> str:
    values = asdict(config) if is_dataclass(config) else vars(config)
    values.pop("source", None)  # where the configuration came from does not change a result
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def results_basis(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    extracts: dict[str, ExtractOutcome],
    out_dir: Path,
    config: Config,
    workspace_marks: dict[str, int],
) -> str:
    """SHA-256 of everything this run's checks and outputs read (see the module's docstring).
    `workspace_marks`: the newest row of each web workspace table when the run carried it
    (caseflags.workspace.carry.workspace_marks)."""
    ensure_store(con)
    live = live_fingerprints(con)
    tables = {
        table: ["current", live.get(table, {}).get("load_fingerprint")]
        if outcome.status in _CURRENT
        else [outcome.status, outcome.reason, outcome.stale]
        for table, outcome in sorted(extracts.items())
    }
    linkage = con.execute("SELECT fingerprint FROM linkage_state ORDER BY linked_at DESC LIMIT 1").fetchall()
    officers = con.execute(sql_text("outputs/results_basis_officers.sql")).fetchall()
    other_runs = con.execute(sql_text("outputs/results_basis_history.sql"), {"run_id": run_id}).fetchall()
    basis = {
        "as_at": as_at.isoformat(),
        "tables": tables,
        "linkage": linkage[0][0] if linkage else None,
        "officers": [list(row) for row in officers],
        "other_runs": [list(row) for row in other_runs],
        "workspace": workspace_marks,
        "config": _config_digest(config),
        "code": code_digest(),
        "out_dir": str(Path(out_dir).resolve()),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()


def folder_manifest(run_dir: Path) -> dict[str, str]:
    """{relative path: sha256} of every file in the run folder but run.json."""
    manifest = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(run_dir).as_posix()
        if relative != RUN_RECORD:
            manifest[relative] = file_sha256(path)
    return manifest


def record_results(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    basis: str,
    run_dir: Path,
    checks: list[dict],
    retention: dict,
    delivery: dict,
) -> None:
    """Remember what a completed run computed its results from, and the files it wrote."""
    con.execute("DELETE FROM run_results WHERE run_id = ?", [run_id])
    con.execute(
        "INSERT INTO run_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            basis,
            str(run_dir),
            json.dumps(folder_manifest(run_dir)),
            json.dumps(checks, default=str),
            json.dumps(retention, default=str),
            json.dumps(delivery, default=str),
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def forget_results(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """A run that did not complete leaves nothing to reuse."""
    con.execute("DELETE FROM run_results WHERE run_id = ?", [run_id])


def reusable_results(con: duckdb.DuckDBPyConnection, run_id: str, basis: str) -> ReusedResults | None:
    """The earlier results of this run id when their basis is `basis` and their files are intact."""
    rows = con.execute(
        "SELECT basis, run_dir, files_json, checks_json, retention_json, delivery_json, completed_at "
        "FROM run_results WHERE run_id = ?",
        [run_id],
    ).fetchall()
    if not rows or rows[0][0] != basis:
        return None
    _, run_dir, files_json, checks_json, retention_json, delivery_json, completed_at = rows[0]
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or folder_manifest(run_dir) != json.loads(files_json):
        return None  # a file was removed, added or edited since: write them all again
    return ReusedResults(
        completed_at=completed_at,
        run_dir=run_dir,
        checks=json.loads(checks_json),
        retention=json.loads(retention_json or "{}"),
        delivery=json.loads(delivery_json or "{}"),
    )
