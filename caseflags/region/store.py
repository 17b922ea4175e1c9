"""The regional store: what each authority shares after its run, and the regional results.

An authority's share is read from its own store (read-only, after its run) with
`sql/region/share.sql`, plus the per-check counts of its run record and, when its sharing basis
is "exceptions", its exception list (`<out>/<as-at>/exceptions.csv`). Its rows in the regional
store are replaced in one transaction. An authority whose run failed shares nothing new: its
previous share stays (and is marked as such in region_authorities).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from caseflags.region.manifest import Authority
from caseflags.resources import SQL_DIR
from caseflags.store.database import connect, ensure_store

SHARE_SQL = SQL_DIR / "region/share.sql"
EXCEPTION_COLUMNS = (
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
)


@dataclass(frozen=True)
class AuthorityOutcome:
    """How an authority's nightly went (no personal data: ids, paths, counts, one-line reason)."""

    la_code: str
    status: str  # COMPLETED / FAILED
    reason: str | None = None
    run_dir: str | None = None
    seconds: float = 0.0
    peak_rss_mb: float | None = None


def open_region_store(path: Path, create: bool = False) -> duckdb.DuckDBPyConnection:
    con = connect(path, create=create)
    # A whole store (runs, exceptions, check_runs...: the regional checks' records; the contract's
    # tables stay empty here, the checks' macros bind to them) and the regional tables.
    ensure_store(con, regional=True)
    return con


def read_share(authority: Authority, as_at: date) -> pl.DataFrame:
    """The people an authority shares, from its store (opened read-only)."""
    con = connect(authority.store, read_only=True)
    try:
        return con.sql(SHARE_SQL.read_text(), params={"la_code": authority.la_code, "as_at": as_at}).pl()
    finally:
        con.close()


def record_share(
    region: duckdb.DuckDBPyConnection, authority: Authority, outcome: AuthorityOutcome, as_at: date
) -> None:
    """Replace the authority's share (completed run) or record its failure (previous share kept)."""
    region.execute("BEGIN TRANSACTION")
    try:
        region.execute("DELETE FROM region_authorities WHERE la_code = ?", [authority.la_code])
        people = exceptions_shared = None
        if outcome.status == "COMPLETED":
            share = read_share(authority, as_at)
            people = share.height
            region.execute("DELETE FROM region_people WHERE la_code = ?", [authority.la_code])
            region.register("_share", share)
            region.execute("INSERT INTO region_people BY NAME SELECT * FROM _share")
            region.unregister("_share")
            run_dir = Path(outcome.run_dir)
            _record_counts(region, authority.la_code, as_at, run_dir)
            region.execute(
                "DELETE FROM region_authority_exceptions WHERE la_code = ? AND as_at = ?", [authority.la_code, as_at]
            )
            if authority.shares_exceptions:
                exceptions_shared = _record_exceptions(region, authority.la_code, as_at, run_dir)
        region.execute(
            "INSERT INTO region_authorities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                authority.la_code,
                authority.name,
                authority.sharing,
                as_at,
                outcome.status,
                outcome.reason,
                outcome.seconds,
                people,
                exceptions_shared,
            ],
        )
        region.execute("COMMIT")
    except BaseException:
        region.execute("ROLLBACK")
        raise


def _record_counts(region, la_code: str, as_at: date, run_dir: Path) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    rows = [
        (la_code, as_at, check_id, result["status"], result["exceptions"])
        for check_id, result in record["checks"].items()
    ]
    region.execute("DELETE FROM region_check_counts WHERE la_code = ? AND as_at = ?", [la_code, as_at])
    if rows:
        region.executemany("INSERT INTO region_check_counts VALUES (?, ?, ?, ?, ?)", rows)


def _record_exceptions(region, la_code: str, as_at: date, run_dir: Path) -> int:
    listed = pl.read_csv(run_dir / "exceptions.csv", infer_schema=False)
    listed = listed.select(
        [pl.col(c) if c in listed.columns else pl.lit(None, pl.Utf8).alias(c) for c in EXCEPTION_COLUMNS]
    )
    listed = listed.with_columns(pl.lit(la_code).alias("la_code"), pl.lit(as_at).alias("as_at"))
    region.register("_listed", listed)
    region.execute("INSERT INTO region_authority_exceptions BY NAME SELECT * FROM _listed")
    region.unregister("_listed")
    return listed.height
