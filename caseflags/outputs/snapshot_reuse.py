"""Publishing the web snapshot by updating the previous one (issue 28): a table whose content is
unchanged since the last publish is not written again.

The previous snapshot is copied to the temporary path (a file copy, no DuckDB work), then each
store table's content digest (row count and the sum of its rows' `hash()`, in
sql/web/snapshot_table_digests.sql) is compared with the digest kept in the snapshot
(`snapshot_table_digests`): equal, the table is left as it is; else its rows are replaced. The
store's schema (every table's columns, views and macros) is kept there too: when it changed (a new
version of caseflags), or there is no previous snapshot, the whole store is copied as before.
Tables only the nightly reads (its caches: row hashes, kept pair scores) are published empty.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb

from caseflags.resources import SQL_DIR

# The nightly's own caches: the web never reads them, and they are large (one row per row).
NOT_PUBLISHED = frozenset({"row_hashes", "link_pair_scores", "link_scored_records", "link_scored_children"})
# The run row the publish marks COMPLETED in the copy (not in the store): always copied afresh.
ALWAYS_REWRITTEN = frozenset({"runs"})
DIGESTS_SQL = SQL_DIR / "web" / "snapshot_table_digests.sql"
SCHEMA_ROW = "(schema)"  # the digests table's row for the schema itself


def start_from_previous(final: Path, temp: Path) -> bool:
    """Copy the published snapshot to `temp` to update it in place; False when there is none."""
    if final.is_symlink() or not final.is_file():
        return False
    shutil.copyfile(final, temp)
    return True


def store_schema_digest(con: duckdb.DuckDBPyConnection, database: str) -> str:
    """Every table's columns and types, every view and macro of the store, as one digest."""
    rows = con.execute(_statements()["schema"], {"database": database}).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def table_digest(con: duckdb.DuckDBPyConnection, database: str, table: str) -> str:
    """A store table's content digest (the connection's current database is the store)."""
    count, total = con.execute(_statements()["table"], {"table_name": table}).fetchone()
    return f"{count}:{total}"


def kept_digests(con: duckdb.DuckDBPyConnection, snapshot: str) -> dict[str, str] | None:
    """The digests kept in the attached snapshot, or None when it keeps none (an older one)."""
    try:
        rows = con.execute(_statements()["kept"].replace("snapshot_alias", _quoted(snapshot))).fetchall()
    except duckdb.CatalogException:
        return None
    return dict(rows)


def update_changed_tables(
    con: duckdb.DuckDBPyConnection, database: str, snapshot: str, tables: list[str], sorted_tables: dict[str, str]
) -> dict | None:
    """Replace the rows of the snapshot tables whose store content changed; None (nothing done)
    when the snapshot cannot be updated in place (no digests kept, or another schema)."""
    kept = kept_digests(con, snapshot)
    schema = store_schema_digest(con, database)
    if kept is None or kept.get(SCHEMA_ROW) != schema:
        return None
    # The tables the publish derives for the pages (sql/web/) are made again after this.
    for (derived,) in con.execute(_statements()["derived"], {"snapshot": snapshot, "database": database}).fetchall():
        con.execute(f"DROP TABLE {_quoted(snapshot)}.{_quoted(derived)}").fetchall()
    rewritten, unchanged = [], []
    digests = {SCHEMA_ROW: schema}
    for table in tables:
        if table in NOT_PUBLISHED:
            continue
        digests[table] = table_digest(con, database, table)
        if kept.get(table) == digests[table] and table not in ALWAYS_REWRITTEN:
            unchanged.append(table)
            continue
        target, source = f"{snapshot}.{_quoted(table)}", f"{_quoted(database)}.{_quoted(table)}"
        order = f" ORDER BY {sorted_tables[table]}" if table in sorted_tables else ""
        con.execute(f"DELETE FROM {target}").fetchall()
        con.execute(f"INSERT INTO {target} SELECT * FROM {source}{order}").fetchall()
        rewritten.append(table)
    keep_digests(con, snapshot, digests)
    return {"rewritten": len(rewritten), "unchanged": len(unchanged)}


def record_all_digests(con: duckdb.DuckDBPyConnection, database: str, snapshot: str, tables: list[str]) -> None:
    """After a whole copy: the digests of what was copied, for the next publish to compare."""
    digests = {SCHEMA_ROW: store_schema_digest(con, database)}
    digests.update({t: table_digest(con, database, t) for t in tables if t not in NOT_PUBLISHED})
    keep_digests(con, snapshot, digests)


def keep_digests(con: duckdb.DuckDBPyConnection, snapshot: str, digests: dict[str, str]) -> None:
    for statement in _statements()["keep"].split(";"):
        if statement.strip():
            con.execute(statement.replace("snapshot_alias", _quoted(snapshot))).fetchall()
    con.executemany(f"INSERT INTO {_quoted(snapshot)}.snapshot_table_digests VALUES (?, ?)", list(digests.items()))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _statements() -> dict[str, str]:
    """The named queries of sql/web/snapshot_table_digests.sql (`-- name: <key>` before each)."""
    parts, name = {}, None
    for line in DIGESTS_SQL.read_text().splitlines():
        if line.startswith("-- name: "):
            name = line.removeprefix("-- name: ").strip()
            parts[name] = ""
        elif name is not None and not line.lstrip().startswith("--"):
            parts[name] += line + "\n"
    return {k: v.strip().rstrip(";") if k != "keep" else v for k, v in parts.items()}
