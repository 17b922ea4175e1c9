"""The audit work done in the browser, carried into the store's audit tables.

`carry_web_audit(con)` runs in the nightly (its carry step, after `carry_web_reviews`) and at the
start of every `caseflags sample` command that opens the store, so later samples' "audited
recently" exclusion and `import-outcomes` see what was done in the browser. In order:

1. samples drawn in the browser and not yet in `audit_samples`: recorded by `record_sample`, the
   very rows `caseflags sample` records (by sample_id, so once; who drew it and when go to
   `web_audit_samples_carried`, as audit_samples has no such column);
2. "mark audited": `mark_audited`, in the order they were made;
3. outcomes: each replaces the (sample, child, check) outcome and is inserted as an imported row
   would be (`flagged` from the store's concerns, `source_file` = `caseflags web`), in order;
   who recorded it goes to `web_audit_outcomes_carried`.

Marks and outcomes are carried once each (their workspace row ids are remembered in the store).
The workspace is read in WAL mode and never blocks the web; a missing workspace carries nothing.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from caseflags.audit.model import SampleError, record_sample, result_from_json
from caseflags.audit.outcomes import mark_audited
from caseflags.resources import sql_text
from caseflags.store.database import ensure_store
from caseflags.workspace.carry import WEB_SOURCE, open_workspace
from caseflags.workspace.database import utc_now


def _sql(name: str) -> str:
    return sql_text(f"web/audit/{name}.sql")


def carry_web_audit(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> dict[str, int]:
    """Carry the workspace's new samples, audit marks and outcomes; returns how many of each (and
    how many marks the store refused: their sample is not in it; they are tried again next time)."""
    counts = {"samples": 0, "marks": 0, "outcomes": 0, "marks_refused": 0}
    ws = open_workspace(con)
    if ws is None:
        return counts
    try:
        samples = ws.execute(_sql("carry_read_samples")).fetchall()
        marks = ws.execute(_sql("carry_read_marks")).fetchall()
        outcomes = ws.execute(_sql("carry_read_outcomes")).fetchall()
    finally:
        ws.close()
    now = now or utc_now()
    ensure_store(con)

    known: dict[str, set[str]] = {"stored": set(), "sample": set(), "mark": set(), "outcome": set()}
    for kind, key in con.execute(_sql("store_carried_ids")).fetchall():
        known[kind].add(key)
    stored, carried = known["stored"], known["sample"]
    for sample_id, drawn_by, drawn_at, result_json in samples:
        if sample_id in carried:
            continue
        if sample_id not in stored:  # the same draw may have been recorded by `caseflags sample`
            record_sample(con, result_from_json(result_json))
            counts["samples"] += 1
        con.execute(
            _sql("carried_sample"),
            {"id": sample_id, "by": drawn_by, "at": datetime.fromisoformat(drawn_at), "now": now},
        ).fetchall()

    for mark_id, sample_id, audited_on, marked_by in marks:
        if str(mark_id) in known["mark"]:
            continue
        try:
            mark_audited(con, sample_id, date.fromisoformat(audited_on))
        except SampleError:  # checked when saved; a sample the store no longer has is left, and counted
            counts["marks_refused"] += 1
            continue
        con.execute(_sql("carried_mark"), {"id": mark_id, "sample": sample_id, "by": marked_by, "now": now}).fetchall()
        counts["marks"] += 1

    todo = [row for row in outcomes if str(row[0]) not in known["outcome"]]
    if todo:
        flagged_pairs = {tuple(r) for r in con.execute(_sql("store_flagged_pairs")).fetchall()}
        con.execute("BEGIN TRANSACTION")
        try:
            for outcome_id, sample_id, person_id, check_id, outcome, note, recorded_by, recorded_at in todo:
                con.execute(sql_text("audit/delete_outcome.sql"), [sample_id, person_id, check_id])
                con.execute(
                    sql_text("audit/insert_outcome.sql"),
                    [
                        sample_id,
                        person_id,
                        check_id,
                        (sample_id, person_id, check_id) in flagged_pairs,
                        outcome,
                        note,
                        datetime.fromisoformat(recorded_at),
                        WEB_SOURCE,
                    ],
                )
                con.execute(
                    _sql("carried_outcome"), {"id": outcome_id, "sample": sample_id, "by": recorded_by, "now": now}
                ).fetchall()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        counts["outcomes"] = len(todo)
    return counts
