"""Row-level change detection: which rows of each contract table are new, changed or gone since
the night before (issue 28).

At publication every table loaded tonight is hashed row by row in SQL (sql/changes/: DuckDB's
`hash()` over the typed values, its business key (`contracts.keys`) hashed apart) and compared
with the hashes kept from the last publication (`row_hashes`): by key where the table has one
(new, changed, gone, unchanged), else by row hash (new and gone; unchanged). A table unchanged
by file digest is not read again: all its rows are unchanged. The counts go to `row_changes`,
run.json (`row_changes`) and the run row. Counts only: no value leaves the store.

The hashes depend on DuckDB's hash function and the contract's columns (`hash_basis`): when either
changed, the kept hashes cannot be compared and the table starts again (`baseline`: every row new).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import duckdb

from caseflags.resources import SQL_DIR
from caseflags.store.database import contract_table_sql
from caseflags.store.ledger import ExtractOutcome

CHANGES_SQL = SQL_DIR / "changes"
COUNTED_STATUSES = ("LOADED", "UNCHANGED")


@dataclass(frozen=True)
class RowChanges:
    keyed: bool
    baseline: bool
    rows_new: int
    rows_changed: int
    rows_gone: int
    rows_unchanged: int


def hash_basis(table: str) -> str:
    """What a table's row hashes depend on: the DuckDB version and the table's contract statement."""
    text = f"{duckdb.__version__}\0{contract_table_sql()[table]}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def detect_row_changes(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    outcomes: dict[str, ExtractOutcome],
    unique_keys: dict[str, tuple[str, ...]],
) -> dict[str, dict]:
    """`unique_keys`: each table's business key (contracts.keys.UNIQUE_KEYS; a table without one is
    compared by row hash). Compare each published (LOADED) table with its kept hashes, keep tonight's, and record the
    counts of every LOADED or UNCHANGED table for `run_id`. Runs inside the caller's transaction
    (publication), so the kept hashes always describe the live tables."""
    counts = {}
    for table, outcome in outcomes.items():
        if outcome.status not in COUNTED_STATUSES:
            continue
        basis = hash_basis(table)
        kept, kept_basis = con.execute(_sql("hash_state.sql")[0], {"table_name": table}).fetchone()
        comparable = kept > 0 and kept_basis == basis
        if outcome.status == "UNCHANGED" and comparable:
            # Same file, same parser as the live rows: nothing to hash again.
            changes = RowChanges(table in unique_keys, False, 0, 0, 0, kept)
        else:
            changes = _compare(con, table, comparable, tuple(unique_keys.get(table, ())))
        _run(
            con,
            "record_row_changes.sql",
            {"run_id": run_id, "table_name": table, "hash_basis": basis, **asdict(changes)},
        )
        counts[table] = asdict(changes)
    return counts


def _compare(con: duckdb.DuckDBPyConnection, table: str, comparable: bool, key: tuple[str, ...]) -> RowChanges:
    keys = list(key)
    _run(con, "current_row_hashes.sql", {"table_name": table, "keyed": bool(keys), "key_columns": keys})
    new, changed, gone, unchanged = con.execute(
        _sql("compare_row_hashes.sql")[0], {"table_name": table, "comparable": comparable}
    ).fetchone()
    _run(con, "replace_row_hashes.sql", {"table_name": table})
    return RowChanges(bool(keys), not comparable, int(new), int(changed), int(gone), int(unchanged))


def _sql(name: str) -> list[str]:
    text = "\n".join(
        line for line in (CHANGES_SQL / name).read_text().splitlines() if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def _run(con: duckdb.DuckDBPyConnection, name: str, parameters: dict) -> None:
    for statement in _sql(name):
        used = {k: v for k, v in parameters.items() if f"${k}" in statement}
        con.execute(statement, used).fetchall()
