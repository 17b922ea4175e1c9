"""The load ledger: what each delivered extract became (loaded, unchanged, refused, …), and the
rows a delivery stages for publication. One row per table per run in `extract_loads`.

Per delivered file and table (`ExtractOutcome.ledger`, run.json `ledger`): records read =
rows loaded + rows quarantined + rows withheld (rows of a table whose data contract failed, so
none of it was published). `balanced` is False when the counts disagree; the run says so loudly
(log, console, report) and `ledger_balanced` in run.json is false.
"""

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
    rows_withheld: int = 0  # rows that passed ingest but were not published (failed contract)
    ledger: list[dict] = field(default_factory=list)  # per source file: see ledger_entry

    def withhold(self) -> None:
        """The table failed its data contract: its loaded rows are withheld, not published."""
        self.rows_withheld, self.rows_loaded = self.rows_withheld + self.rows_loaded, 0
        for entry in self.ledger:
            if entry["read"] is not None:
                entry["withheld"], entry["loaded"] = entry["withheld"] + entry["loaded"], 0
                entry["status"] = self.status


@dataclass
class StagedDelivery:
    """What publication writes beside the staged tables: quarantined rows, identifier issues and
    data-quality warnings (values nothing depends on, kept raw: table_name, file, line,
    column_name, reason, raw_value)."""

    quarantine: list[pl.DataFrame] = field(default_factory=list)
    identifier_issues: dict[str, pl.DataFrame] = field(default_factory=dict)
    warnings: list[pl.DataFrame] = field(default_factory=list)  # data_quality_warnings rows (values loaded as missing)


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


def ledger_entry(
    file: str,
    table: str,
    status: str,
    read: int | None = None,
    loaded: int | None = None,
    quarantined: int | None = None,
    reason: str | None = None,
) -> dict:
    """One file's account for one table. A refused file has no counts (nothing was read as rows)."""
    entry = {
        "file": file,
        "table": table,
        "status": status,
        "read": read,
        "loaded": loaded,
        "quarantined": quarantined,
        "withheld": 0 if read is not None else None,
        "reason": reason,
    }
    entry["balanced"] = balances(entry)
    return entry


def balances(entry: dict) -> bool | None:
    if entry["read"] is None:
        return None
    return entry["read"] == entry["loaded"] + entry["quarantined"] + entry["withheld"]


def run_ledger(outcomes: dict[str, ExtractOutcome]) -> list[dict]:
    """Every file's entries for run.json, re-checked (withholding moves rows, never loses them)."""
    entries = []
    for outcome in outcomes.values():
        for entry in outcome.ledger:
            entry = dict(entry)
            entry["balanced"] = balances(entry) if entry.get("balanced") is not False else False
            entries.append(entry)
    return entries


def unbalanced(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["balanced"] is False]


def describe_unbalanced(entry: dict) -> str:
    """One line, counts only."""
    detail = (
        f"read {entry['read']}, loaded {entry['loaded']}, quarantined {entry['quarantined']}, "
        f"withheld {entry['withheld']}"
    )
    if entry.get("staged") is not None:
        detail += f"; the staged table holds {entry['staged']} rows"
    return f"LEDGER DOES NOT BALANCE: {entry['file']} ({entry['table']}): {detail}"
