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

INTERNAL_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    as_at DATE NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    stages_json VARCHAR,
    extracts_json VARCHAR
);
CREATE TABLE IF NOT EXISTS extract_loads (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    file VARCHAR,
    status VARCHAR NOT NULL,          -- LOADED / UNCHANGED / REFUSED / ABSENT / FAILED_CONTRACT
    reason VARCHAR,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    content_sha256 VARCHAR,
    load_fingerprint VARCHAR,           -- file hash + parser version: equal means nothing to reload
    delivered_as_at DATE                -- as-at of the delivery whose data the table now holds
);
CREATE TABLE IF NOT EXISTS quarantine (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    raw_line VARCHAR
);
CREATE TABLE IF NOT EXISTS identifier_issues (
    table_name VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    column_name VARCHAR NOT NULL,
    identifier_type VARCHAR NOT NULL,   -- NHS_NUMBER / UPN
    agency VARCHAR,
    person_id VARCHAR,
    record_key VARCHAR,
    reason VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS contract_results (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    column_name VARCHAR,
    success BOOLEAN NOT NULL,
    blocking BOOLEAN NOT NULL,
    observed VARCHAR
);
CREATE TABLE IF NOT EXISTS person_links (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    match_probability DOUBLE
);
CREATE TABLE IF NOT EXISTS person_identifiers (
    person_id VARCHAR NOT NULL,
    identifier_type VARCHAR NOT NULL,
    identifier_value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS linkage_state (
    fingerprint VARCHAR,                -- inputs, decisions, thresholds and model of the last linkage
    linked_at TIMESTAMP,
    summary_json VARCHAR
);
CREATE TABLE IF NOT EXISTS exceptions (
    run_id VARCHAR NOT NULL,
    as_at DATE NOT NULL,
    exception_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR NOT NULL,
    person_id VARCHAR,
    agency VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    detail VARCHAR,
    locator VARCHAR
);
CREATE TABLE IF NOT EXISTS check_runs (
    run_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,            -- EVALUATED / NOT_EVALUATED
    reason VARCHAR,
    exception_count BIGINT
);
"""


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
    """CREATE TABLE statement of each contract table, by table name."""
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


def create_contract_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ENUM types and every (empty) contract table that does not exist yet."""
    existing_types = {r[0] for r in con.execute("SELECT type_name FROM duckdb_types() WHERE NOT internal").fetchall()}
    for stmt in _statements(SCHEMA_SQL.read_text()):
        head = stmt.lstrip()
        if head.upper().startswith("CREATE TYPE"):
            if head.split()[2] not in existing_types:
                con.execute(stmt)
        elif head.upper().startswith("CREATE TABLE"):
            con.execute(stmt.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))


def ensure_store(con: duckdb.DuckDBPyConnection) -> None:
    """Create everything a store needs: contract tables (empty), internal and linkage tables."""
    from caseflags.linkage.people import ensure_linkage_tables

    create_contract_tables(con)
    con.execute(INTERNAL_TABLES_SQL)
    ensure_linkage_tables(con)
