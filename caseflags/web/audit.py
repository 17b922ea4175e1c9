"""Audit samples in the workspace: draw, read, record outcomes and audit dates.

The web never writes the store. A sample is drawn on a read-only cursor of the snapshot by the
same `choose_sample` as `caseflags sample` (so the same seed and data give the same sample) and
saved in the workspace database (`sql/web/workspace_schema.sql`), with who drew it and when and
the whole result, so its packs are the CLI's. Outcomes and "mark audited" are appended there too,
with the officer's name and time. `caseflags.workspace.carry_audit` takes all of it into the store's
audit tables, as `record_sample`, `mark_audited` and `import_audit_outcomes` would.

Pages show the store's samples (from the snapshot) and the workspace's together, by sample_id;
an outcome or mark saved here counts at once, before it is carried.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import duckdb

from caseflags.audit.model import (
    OUTCOMES,
    ExceptionSource,
    OpenException,
    SampleChild,
    SampleError,
    SampleResult,
    child_concerns,
    result_from_json,
    result_to_json,
)
from caseflags.audit.sampling import choose_sample
from caseflags.config import MAX_TEXT_LENGTH
from caseflags.resources import sql_text
from caseflags.workspace.database import timestamp, transaction, utc_now

MAX_NOTE_LENGTH = MAX_TEXT_LENGTH  # limits.max_text_length: the same cap as the imports


class AuditError(ValueError):
    """An audit action that cannot be done; the message is shown on the page."""


def _sql(name: str) -> str:
    return sql_text(f"web/audit/{name}.sql")


def _dicts(cursor) -> list[dict]:
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _store_has_samples(cur: duckdb.DuckDBPyConnection) -> bool:
    present = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return {"audit_samples", "audit_sample_children", "audit_sample_concerns"} <= present


def _has_outcomes(cur: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'audit_outcomes'").fetchall()[0][0]
    )


def _carried(cur: duckdb.DuckDBPyConnection) -> dict[str, set[int]]:
    """The workspace marks and outcomes the store had carried when the snapshot was published."""
    carried: dict[str, set[int]] = {"mark": set(), "outcome": set()}
    present = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if {"web_audit_marks_carried", "web_audit_outcomes_carried"} <= present:
        for kind, row_id in cur.execute(_sql("snapshot_carried")).fetchall():
            carried[kind].add(row_id)
    return carried


# -- drawing -----------------------------------------------------------------------------------


def _pending_marks(ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection) -> list[sqlite3.Row]:
    """The latest mark of each sample marked in the workspace, when the store does not have it yet.
    Once carried, the store's audit date is the truth (a later `caseflags sample mark-audited`
    correction then shows and counts)."""
    carried = _carried(cur)["mark"]
    return [row for row in ws.execute(_sql("marks")).fetchall() if row["mark_id"] not in carried]


def marked_audited(ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection) -> list[tuple[str, date]]:
    """(person_id, audited_on) of every sample marked audited in the workspace and not yet carried
    into the store: its latest mark, for the children of a workspace sample or of a store sample
    (read from the snapshot). Carried marks are in the store's audit tables, which the draw reads."""
    found: list[tuple[str, date]] = []
    store_samples: dict[str, date] = {}
    for row in _pending_marks(ws, cur):
        audited_on = date.fromisoformat(row["audited_on"])
        if row["person_id"] is not None:
            found.append((row["person_id"], audited_on))
        else:
            store_samples[row["sample_id"]] = audited_on
    if store_samples and _store_has_samples(cur):
        for sample_id, audited_on in store_samples.items():
            for (person_id,) in cur.execute(_sql("store_sample_child_ids"), {"sample_id": sample_id}).fetchall():
                found.append((person_id, audited_on))
    return found


def draw(
    ws: sqlite3.Connection,
    cur: duckdb.DuckDBPyConnection,
    as_at: date,
    size: int,
    seed: int | None,
    settings: dict,
    drawn_by: str,
    now: datetime | None = None,
) -> SampleResult:
    """Draw a sample from the snapshot (children audited per the store or the workspace left out)
    and save it in the workspace. The same sample drawn twice is saved once."""
    result = choose_sample(
        cur,
        as_at,
        size=size,
        seed=seed,
        controls=min(settings["controls"], size),
        exclude_audited_within_days=settings["exclude_audited_within_days"],
        cohort=settings["cohort"],
        also_audited=marked_audited(ws, cur),
    )
    save_sample(ws, result, drawn_by, now)
    return result


def save_sample(ws: sqlite3.Connection, result: SampleResult, drawn_by: str, now: datetime | None = None) -> bool:
    """Save the sample, its children and concerns; False when it was saved before."""
    with transaction(ws):
        if ws.execute(_sql("sample_exists"), {"sample_id": result.sample_id}).fetchone():
            return False
        ws.execute(
            _sql("insert_sample"),
            {
                "sample_id": result.sample_id,
                "as_at": result.as_at.isoformat(),
                "seed": result.seed,
                "cohort": result.cohort,
                "size": result.size,
                "controls": result.controls,
                "exclude_days": result.exclude_audited_within_days,
                "source": result.exceptions_source.label,
                "source_as_at": result.exceptions_source.as_at.isoformat(),
                "warnings": "\n".join(result.warnings) or None,
                "drawn_by": drawn_by,
                "drawn_at": timestamp(now),
                "result_json": result_to_json(result),
            },
        )
        for child in result.children:
            ws.execute(
                _sql("insert_sample_child"),
                {
                    "sample_id": result.sample_id,
                    "person_id": child.person_id,
                    "position": child.position,
                    "role": child.role,
                    "age_band": child.age_band,
                    "need_type": child.need_type,
                    "weight": child.weight,
                    "open": child.open_exception_count,
                    "concerns": child.distinct_concerns,
                    "reasons": "\n".join(child.reasons),
                },
            )
            for concern in child_concerns(child):
                ws.execute(
                    _sql("insert_sample_concern"),
                    {
                        "sample_id": result.sample_id,
                        "person_id": child.person_id,
                        **{k: v for k, v in concern.items() if k != "agencies"},
                    },
                )
    return True


# -- reading a sample --------------------------------------------------------------------------


def workspace_result(ws: sqlite3.Connection, sample_id: str) -> SampleResult | None:
    row = ws.execute(_sql("result_json"), {"sample_id": sample_id}).fetchone()
    return result_from_json(row["result_json"]) if row else None


def stored_result(cur: duckdb.DuckDBPyConnection, sample_id: str) -> SampleResult | None:
    """A sample recorded in the store (drawn by `caseflags sample`), rebuilt from the snapshot's
    audit tables for its packs: the exceptions its concerns name, as its run listed them."""
    if not _store_has_samples(cur):
        return None
    found = _dicts(cur.execute(_sql("store_samples"), {"sample_id": sample_id, "limit": 1}))
    if not found:
        return None
    sample = found[0]
    key = {"sample_id": sample_id, "as_at": sample["exceptions_as_at"] or sample["as_at"]}
    exceptions: dict[str, list[OpenException]] = {}
    for row in cur.execute(_sql("store_sample_exceptions"), {**key, "source": sample["exceptions_source"]}).fetchall():
        exceptions.setdefault(row[0], []).append(OpenException(*row[1:]))
    children = tuple(
        SampleChild(
            person_id=c["person_id"],
            position=c["position"],
            role=c["role"],
            age_years=c["age_years"],
            age_band=c["age_band"],
            need_type=c["need_type"],
            disabilities=c["disabilities"],
            open_exception_count=c["open_exceptions"],
            distinct_concerns=c["distinct_concerns"],
            weight=c["weight"],
            probability=0.0,
            reasons=tuple(c["reasons"].split("\n")),
            exceptions=tuple(exceptions.get(c["person_id"], [])),
        )
        for c in _dicts(cur.execute(_sql("store_sample_children"), {"sample_id": sample_id, "as_at": sample["as_at"]}))
    )
    return SampleResult(
        sample_id=sample_id,
        as_at=sample["as_at"],
        seed=sample["seed"],
        cohort=sample["cohort"],
        size=sample["size"],
        controls=sample["controls"],
        exclude_audited_within_days=sample["exclude_audited_within_days"],
        exceptions_source=ExceptionSource(sample["exceptions_source"], key["as_at"], 0),
        cohort_count=0,
        excluded_recently_audited=0,
        strata_required=(),
        strata_uncovered=(),
        children=children,
        warnings=tuple((sample["warnings"] or "").split("\n")) if sample["warnings"] else (),
    )


def find_sample(ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection, sample_id: str) -> SampleResult | None:
    return workspace_result(ws, sample_id) or stored_result(cur, sample_id)


# -- outcomes and audit dates --------------------------------------------------------------------


def record_outcome(
    ws: sqlite3.Connection,
    result: SampleResult,
    person_id: str,
    check_id: str,
    outcome: str,
    note: str | None,
    recorded_by: str,
    known_checks: set[str],
    now: datetime | None = None,
) -> None:
    """Append one outcome, checked as `import_audit_outcomes` checks a row: a child of the sample,
    CONFIRMED / NOT_A_CONCERN, a known check (a concern no check raised is recorded unflagged)."""
    child = next((c for c in result.children if c.person_id == person_id), None)
    if child is None:
        raise AuditError(f"{person_id} is not in sample {result.sample_id}")
    outcome = (outcome or "").strip().upper().replace(" ", "_")
    if outcome not in OUTCOMES:
        raise AuditError(f"outcome must be one of {', '.join(OUTCOMES)}")
    check_id = (check_id or "").strip().upper()
    flagged = check_id in {e.check_id for e in child.exceptions}
    if not flagged and check_id not in known_checks:
        raise AuditError(f"unknown check_id {check_id or '(blank)'}")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_LENGTH:
        raise AuditError(f"a note is at most {MAX_NOTE_LENGTH} characters")
    with transaction(ws):
        ws.execute(
            _sql("insert_outcome"),
            {
                "sample_id": result.sample_id,
                "person_id": person_id,
                "check_id": check_id,
                "flagged": int(flagged),
                "outcome": outcome,
                "note": note,
                "recorded_by": recorded_by,
                "recorded_at": timestamp(now),
            },
        )


def record_mark(
    ws: sqlite3.Connection, result: SampleResult, audited_on: date, marked_by: str, now: datetime | None = None
) -> None:
    if audited_on < result.as_at:
        raise AuditError(f"audit date {audited_on} is before the sample's as-at date {result.as_at}")
    if audited_on > (now or utc_now()).date():
        raise AuditError(f"audit date {audited_on} is in the future")
    with transaction(ws):
        ws.execute(
            _sql("insert_mark"),
            {
                "sample_id": result.sample_id,
                "audited_on": audited_on.isoformat(),
                "marked_by": marked_by,
                "marked_at": timestamp(now),
            },
        )


def outcome_history(ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection, sample_id: str) -> list[dict]:
    """Every outcome of the sample, oldest first: the workspace's (who, when) and the store's
    (imported from Excel, or carried from here, which are then shown once)."""
    web = [
        dict(r) | {"recorded_at": datetime.fromisoformat(r["recorded_at"]), "source": "caseflags web"}
        for r in ws.execute(_sql("outcomes"), {"sample_id": sample_id}).fetchall()
    ]
    carried = {(r["person_id"], r["check_id"], r["recorded_at"]) for r in web}
    store = []
    if _has_outcomes(cur):
        for r in _dicts(cur.execute(_sql("store_outcomes"), {"sample_id": sample_id})):
            if (r["person_id"], r["check_id"], r["recorded_at"]) not in carried:
                store.append(r | {"recorded_by": None, "source": r["source_file"]})
    return sorted(web + store, key=lambda r: r["recorded_at"])


def current_outcomes(history: list[dict]) -> dict[tuple[str, str], dict]:
    """The latest outcome per (child, check)."""
    return {(r["person_id"], r["check_id"]): r for r in history}


ALL = 10**9  # "no limit" for the lists of every sample


def _merged_samples(
    ws: sqlite3.Connection,
    cur: duckdb.DuckDBPyConnection,
    limit: int,
    sample_id: str | None = None,
    details: bool = True,
) -> list[dict]:
    """The store's and the workspace's samples by sample_id, newest first, with the audit date: a
    workspace mark the store does not have yet, else the store's."""
    by_id: dict[str, dict] = {}
    key = {"sample_id": sample_id, "limit": limit}
    if _store_has_samples(cur):
        for sample in _dicts(cur.execute(_sql("store_samples"), key)):
            one = {"sample_id": sample["sample_id"]}
            if details:
                sample["children"] = _dicts(
                    cur.execute(_sql("store_sample_children"), {**one, "as_at": sample["as_at"]})
                )
                sample["concerns"] = _dicts(cur.execute(_sql("store_sample_concerns"), one))
            sample["drawn_by"] = None
            by_id[sample["sample_id"]] = sample
    for row in ws.execute(_sql("samples"), key).fetchall():
        sample = dict(row)
        one = {"sample_id": sample["sample_id"]}
        sample["as_at"] = date.fromisoformat(sample["as_at"])
        stored = by_id.get(sample["sample_id"])
        sample["audited_on"] = stored["audited_on"] if stored else None
        if details:
            sample["children"] = [dict(r) for r in ws.execute(_sql("sample_children"), one).fetchall()]
            sample["concerns"] = [dict(r) for r in ws.execute(_sql("sample_concerns"), one).fetchall()]
        by_id[sample["sample_id"]] = sample
    for mark in _pending_marks(ws, cur):
        if mark["sample_id"] in by_id:
            by_id[mark["sample_id"]]["audited_on"] = date.fromisoformat(mark["audited_on"])
    samples = sorted(by_id.values(), key=lambda s: (s["as_at"], s.get("drawn_at") or "", s["sample_id"]), reverse=True)
    return samples[:limit]


def samples_view(
    ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection, limit: int = 8, sample_id: str | None = None
) -> list[dict]:
    """The latest samples of the store and the workspace (or the one sample_id), by sample_id, each
    with its children, their reasons and concerns, and the current outcomes; newest first."""
    samples = _merged_samples(ws, cur, limit, sample_id)
    for sample in samples:
        outcomes = current_outcomes(outcome_history(ws, cur, sample["sample_id"]))
        for child in sample["children"]:
            child["concerns"] = [c for c in sample["concerns"] if c["person_id"] == child["person_id"]]
            child["outcomes"] = [o for (person, _check), o in sorted(outcomes.items()) if person == child["person_id"]]
    return samples


def sample_list(ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every sample, store and workspace, newest first (id, as-at, size, who drew it, audit date)."""
    return _merged_samples(ws, cur, ALL, details=False)


def confirmation_rates(ws: sqlite3.Connection, cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per check, as `caseflags.audit.outcomes.confirmation_rates` counts them, over the snapshot's
    outcomes and those recorded here and not yet carried (the latest per sample, child and check
    wins, as the carry would make it): outcomes recorded, confirmed, not a concern, the rate
    confirmed / (confirmed + not a concern), concerns found that the check missed."""
    current: dict[tuple[str, str, str], tuple[bool, str]] = {}
    if _has_outcomes(cur):
        for sample_id, person_id, check_id, flagged, outcome in cur.execute(_sql("store_rate_outcomes")).fetchall():
            current[(sample_id, person_id, check_id)] = (bool(flagged), outcome)
    carried = _carried(cur)["outcome"]
    for row in ws.execute(_sql("rate_outcomes")).fetchall():
        if row["outcome_id"] not in carried:
            current[(row["sample_id"], row["person_id"], row["check_id"])] = (bool(row["flagged"]), row["outcome"])
    per_check: dict[str, dict] = {}
    for (sample_id, _person, check_id), (flagged, outcome) in current.items():
        row = per_check.setdefault(
            check_id,
            {"check_id": check_id, "recorded": 0, "confirmed": 0, "not_a_concern": 0, "missed": 0, "samples": set()},
        )
        row["recorded"] += 1
        row["samples"].add(sample_id)
        if flagged:
            row["confirmed" if outcome == "CONFIRMED" else "not_a_concern"] += 1
        elif outcome == "CONFIRMED":
            row["missed"] += 1
    rates = []
    for check_id in sorted(per_check):
        row = per_check[check_id]
        judged = row["confirmed"] + row["not_a_concern"]
        rates.append(row | {"samples": len(row["samples"]), "rate": row["confirmed"] / judged if judged else None})
    return rates


def parse_size(text: str, default: int) -> int:
    try:
        size = int(text) if str(text).strip() else default
    except ValueError:
        raise AuditError("the sample size must be a whole number") from None
    if not 1 <= size <= 1000:
        raise AuditError("the sample size must be between 1 and 1000")
    return size


def parse_seed(text: str) -> int | None:
    if not str(text or "").strip():
        return None
    try:
        seed = int(str(text).strip())
    except ValueError:
        raise AuditError("the seed must be a whole number") from None
    if not 0 <= seed < 2**63:
        raise AuditError("the seed must be between 0 and 2^63 - 1")
    return seed


__all__ = [
    "AuditError",
    "SampleError",
    "confirmation_rates",
    "draw",
    "find_sample",
    "marked_audited",
    "outcome_history",
    "record_mark",
    "record_outcome",
    "sample_list",
    "samples_view",
    "save_sample",
]
