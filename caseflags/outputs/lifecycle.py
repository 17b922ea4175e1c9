"""The exception lifecycle: each run's raised exceptions as history, NEW / OPEN / RESOLVED.

`update_lifecycle` turns a run's raised exceptions (`exceptions`, `check_runs`) into history
against the previous run, carrying the open exceptions of a check that was not evaluated this
run instead of resolving them. Store objects (docs/OUTPUTS.md): the tables of
`sql/outputs/lifecycle_tables.sql` (`lifecycle_runs`, `exception_history`, `annotations`) and
the views of `sql/outputs/views.sql` (`annotations_latest`, `exceptions_listed`,
`exceptions_current`, `exception_status`, `run_history`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import duckdb

from caseflags.resources import config_default, sql_text
from caseflags.store.database import ensure_store

LIFECYCLE_STATUSES = ("NEW", "OPEN", "RESOLVED")
LISTED_STATUSES = ("NEW", "OPEN")
REVIEW_STATUSES = ("UNREVIEWED", "IN_HAND", "RESOLVED_AT_SOURCE", "FALSE_POSITIVE", "ACCEPTED_RISK")
# Reviews that keep an exception listed but marked, until they expire and need a fresh look.
EXPIRING_REVIEW_STATUSES = ("FALSE_POSITIVE", "ACCEPTED_RISK")
DEFAULT_EXPIRY_DAYS = config_default("outputs", "annotation_expiry_days")

# exceptions.csv, in this order (OUTPUTS.md): the contract's columns, then the extension (issue 25,
# docs/OUTPUTS.md "Priority and owners"): risk and who acts.
CONTRACT_CSV_COLUMNS = (
    "exception_id",
    "check_id",
    "concern",
    "severity",
    "person_id",
    "agency",
    "entity_type",
    "entity_id",
    "detail",
    "locator",
    "first_seen",
    "status",
    "review_status",
    "review_note",
    "as_at",
)
CSV_COLUMNS = (*CONTRACT_CSV_COLUMNS, "priority", "priority_reason", "owner_name", "owner_team", "central_queue_reason")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing. Callers must not hold a transaction open: DuckDB has no nesting, and a
    failed BEGIN would abort theirs."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@dataclass(frozen=True)
class LifecycleCounts:
    run_id: str
    previous_run_id: str | None
    new: int
    open: int
    resolved: int
    carried: int  # open rows of checks not evaluated this run, carried from an earlier run


def update_lifecycle(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date) -> LifecycleCounts:
    """Record this run's exceptions as NEW / OPEN / RESOLVED against the previous run.

    The previous run is the one that entered the lifecycle just before this run_id (a rerun of
    the same run_id keeps its place and replaces its own history, so it is idempotent). NEW:
    raised now and not listed in the previous run; OPEN: listed then and raised now;
    RESOLVED: listed then, not raised now, and its check evaluated now. Exceptions of a check
    that is NOT_EVALUATED this run (or absent from `check_runs`) are carried as OPEN with their
    last evaluated detail. `first_seen` is the as-at of the first run that ever raised it.
    """
    ensure_store(con)
    with transaction(con):
        existing = con.execute(
            "SELECT seq, previous_run_id FROM lifecycle_runs WHERE run_id = $run_id", {"run_id": run_id}
        ).fetchone()
        if existing:
            seq, previous_run_id = existing
            con.execute(
                "UPDATE lifecycle_runs SET as_at = $as_at WHERE run_id = $run_id", {"run_id": run_id, "as_at": as_at}
            )
        else:
            last = con.execute("SELECT seq, run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1").fetchone()
            seq = (last[0] + 1) if last else 1
            previous_run_id = last[1] if last else None
            con.execute(
                "INSERT INTO lifecycle_runs VALUES ($run_id, $as_at, $seq, $previous_run_id)",
                {"run_id": run_id, "as_at": as_at, "seq": seq, "previous_run_id": previous_run_id},
            )
        con.execute("DELETE FROM exception_history WHERE run_id = $run_id", {"run_id": run_id})
        con.execute(
            sql_text("outputs/lifecycle_insert.sql"),
            {"run_id": run_id, "as_at": as_at, "seq": seq, "previous_run_id": previous_run_id},
        )
        new, open_, resolved, carried = con.execute(
            sql_text("outputs/lifecycle_counts.sql"), {"run_id": run_id}
        ).fetchone()
    return LifecycleCounts(run_id, previous_run_id, new, open_, resolved, carried)
