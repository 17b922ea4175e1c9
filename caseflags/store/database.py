"""The DuckDB store: one file holding extracts, links, exceptions history and run records.

Contract tables are replaced atomically (inside one transaction per run); internal tables are
created here so every module and test builds on the same definitions.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from caseflags.resources import SQL_DIR

SCHEMA_SQL = SQL_DIR / "schema.sql"

INTERNAL_TABLES_SQL = SQL_DIR / "store_tables.sql"
LINKAGE_TABLES_SQL = SQL_DIR / "linkage_tables.sql"


def connect(db_path: str | os.PathLike | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store (":memory:" when no path). A new file is created readable by the owner only."""
    if db_path is None or str(db_path) == ":memory:":
        return duckdb.connect(":memory:")
    path = Path(db_path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Create the empty file 0600 first so DuckDB never writes it world-readable.
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
            path.unlink()  # DuckDB refuses a zero-byte file; the umask below keeps the mode.
    old_umask = os.umask(0o077)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    finally:
        os.umask(old_umask)


def contract_table_sql() -> dict[str, str]:
    """CREATE TABLE statement of each contract table, by table name (from sql/schema.sql)."""
    tables = {}
    for stmt in _statements(SCHEMA_SQL.read_text()):
        head = stmt.lstrip()
        if head.upper().startswith("CREATE TABLE"):
            name = head.split()[2]
            tables[name] = stmt + ";"
    return tables


def _statements(sql: str) -> list[str]:
    lines = [line.split("--", 1)[0] if not line.strip().startswith("'") else line for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def create_staged_table(con: duckdb.DuckDBPyConnection, table: str, staged_name: str) -> None:
    """An empty copy of a contract table under another name, with its types and constraints.

    DuckDB has no `CREATE TABLE … (LIKE …)` and a CTAS drops NOT NULL, so the contract's own
    statement is re-issued under the staged name: the one place a DDL statement is renamed.
    """
    statement = contract_table_sql()[table]
    con.execute(f'CREATE OR REPLACE TABLE "{staged_name}"' + statement[len(f"CREATE TABLE {table}"):])


def create_contract_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ENUM types and every (empty) contract table that does not exist yet."""
    existing_types = {r[0] for r in con.execute(
        "SELECT type_name FROM duckdb_types() WHERE NOT internal AND database_name = current_database()").fetchall()}
    for stmt in _statements(SCHEMA_SQL.read_text()):
        head = stmt.lstrip()
        if head.upper().startswith("CREATE TYPE"):
            if head.split()[2] not in existing_types:
                con.execute(stmt)
        elif head.upper().startswith("CREATE TABLE"):
            con.execute(stmt.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))


def ensure_store(con: duckdb.DuckDBPyConnection) -> None:
    """Create everything a store needs: contract tables (empty), internal and linkage tables."""
    create_contract_tables(con)
    con.execute(INTERNAL_TABLES_SQL.read_text())
    con.execute(LINKAGE_TABLES_SQL.read_text())
