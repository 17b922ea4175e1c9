"""The link stage: rebuild the person index unless none of its inputs changed since the last one."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from caseflags.linkage.people import link_people
from caseflags.store.ledger import live_fingerprints

# What linkage reads: when none of it changed since the last linkage, its results stand.
LINKAGE_INPUTS = ("ssd_person", "ssd_address", "ssd_linked_identifiers", "agency_records")


def link(
    con: duckdb.DuckDBPyConnection,
    match_threshold: float,
    review_threshold: float,
    retrain: bool,
    model_path: Path | None,
) -> dict:
    """Link every partner record to an LA child; returns counts only (no personal data). Officers'
    confirm / reject decisions are in `link_decisions` already (the runbook's carry step)."""
    thresholds = (match_threshold, review_threshold)
    fingerprint = linkage_fingerprint(con, thresholds, model_path)
    previous = con.execute(
        "SELECT fingerprint, summary_json FROM linkage_state ORDER BY linked_at DESC LIMIT 1"
    ).fetchone()
    if fingerprint is not None and previous and previous[0] == fingerprint and not retrain:
        return {**json.loads(previous[1]), "model": "unchanged inputs: previous links kept"}
    summary = link_people(
        con,
        match_threshold=match_threshold,
        review_threshold=review_threshold,
        model_path=model_path,
        retrain=retrain,
    )
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in summary.__dict__.items()}
    con.execute("DELETE FROM linkage_state")
    con.execute(
        "INSERT INTO linkage_state VALUES (?, ?, ?)",
        [linkage_fingerprint(con, thresholds, model_path), datetime.now(UTC).replace(tzinfo=None), json.dumps(record)],
    )
    return record


def linkage_fingerprint(
    con: duckdb.DuckDBPyConnection, thresholds: tuple[float, float], model_path: Path | None
) -> str | None:
    """The live inputs' load fingerprints, officers' decisions, thresholds and model file; None
    when an input's provenance is unknown (then linkage always runs)."""
    live = live_fingerprints(con)
    if any(table not in live for table in LINKAGE_INPUTS):
        return None
    decisions = con.execute("SELECT count(*), max(decision_seq) FROM link_decisions").fetchone()
    model = (
        hashlib.sha256(model_path.read_bytes()).hexdigest() if model_path is not None and model_path.exists() else None
    )
    basis = {
        "inputs": [live[t]["load_fingerprint"] for t in LINKAGE_INPUTS],
        "decisions": list(decisions),
        "thresholds": list(thresholds),
        "model": model,
    }
    return hashlib.sha256(json.dumps(basis, default=str).encode()).hexdigest()


def changed_share(row_changes: dict[str, dict], tables: tuple[str, ...]) -> float | None:
    """The share of these tables' rows new, changed or gone since the night before (of the rows
    there were then), from the night's row-level change counts; None when none of them could be
    compared (a first night, a new store)."""
    compared = [row_changes[t] for t in tables if t in row_changes and not row_changes[t]["baseline"]]
    if not compared:
        return None
    moved = sum(c["rows_new"] + c["rows_changed"] + c["rows_gone"] for c in compared)
    before = sum(c["rows_unchanged"] + c["rows_changed"] + c["rows_gone"] for c in compared)
    return round(moved / max(before, 1), 6)


def retrain_linkage_reason(settings: dict, changed: float | None) -> str | None:
    """Why the model is trained again tonight (None: it is kept): asked for (`retrain`), or at
    least `retrain_changed_share` of linkage's rows moved."""
    if settings["retrain"]:
        return "asked for ([linkage] retrain or --retrain-linkage)"
    if changed is not None and changed >= settings["retrain_changed_share"]:
        return f"{changed:.1%} of linkage's rows changed (at least [linkage] retrain_changed_share)"
    return None
