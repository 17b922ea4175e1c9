"""The load ledger: what each delivered extract became (loaded, unchanged, refused, …), and the
rows a delivery stages for publication. One row per table per run in `extract_loads`."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import polars as pl

STATUSES = ("LOADED", "UNCHANGED", "REFUSED", "FAILED_CONTRACT", "NOT_DELIVERED")


@dataclass
class ExtractOutcome:
    table: str
    file: str | None
    status: str  # one of STATUSES
    reason: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    content_sha256: str | None = None
    load_fingerprint: str | None = None
    stale: bool = False  # the store still holds an earlier delivery's data for this table


@dataclass
class StagedDelivery:
    """What publication writes beside the staged tables: quarantined rows and identifier issues."""

    quarantine: list[pl.DataFrame] = field(default_factory=list)
    identifier_issues: dict[str, pl.DataFrame] = field(default_factory=dict)


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
