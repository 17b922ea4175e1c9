"""The DuckDB store: one file holding extracts, links, exceptions history and run records.

Contract tables are replaced atomically (inside one transaction per run). `ensure_store` is the
one place that creates the store: every DDL file (STORE_DDL, in order) and the shared macros
(STORE_MACROS), so every module and test builds on the same definitions and any SQL can use them.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import duckdb

from caseflags.resources import SQL_DIR, sql_text

SCHEMA_SQL = SQL_DIR / "schema.sql"

# Every store's DDL after the contract's (sql/schema.sql), run in this order by ensure_store:
# CREATE ... IF NOT EXISTS, and new columns added only if missing, so a store keeps its history.
STORE_DDL = (
    "store/tables.sql",  # run records, ledger, quarantine, person index, check results
    "store/working_days.sql",  # the calendar (filled by caseflags.checking.calendar)
    "linkage/tables.sql",  # candidates, conflicts, officers' decisions, the model
    "audit/tables.sql",  # audit samples and outcomes
    "outputs/lifecycle_tables.sql",  # exception history and annotations
    "outputs/triage_tables.sql",  # priority and owners
    "web/carried_tables.sql",  # which workspace rows the nightly has carried
    "outputs/views.sql",  # consumer views over the lifecycle (after its tables)
)
# The regional store's own tables (docs/SCALE.md), on top of a whole store.
REGIONAL_DDL = ("region/tables.sql",)
# Shared macros, installed after every table they read exists (DuckDB binds a macro's tables when
# it is created). They are stored in the store file, so the web snapshot copies them too.
STORE_MACROS = ("macros.sql", "linkage/macros.sql")


class StoreError(Exception):
    """The store path cannot be used as a store; the message names the path in one line."""


def check_store_path(db_path: str | os.PathLike, create: bool = False) -> Path:
    """The store file at db_path, refused in one line when it is a folder, or when it does not
    exist and the caller did not ask for a new store (a typo in --db must not start an empty
    store whose report would list every exception as NEW)."""
    path = Path(db_path)
    if path.is_dir():
        raise StoreError(f"--db {path} is a folder, not a store file")
    if not path.exists() and not create:
        raise StoreError(f"store {path} does not exist: check --db, or pass --new-store to create a new store there")
    return path


def _private_parents(folder: Path) -> None:
    """Create the missing folders above a new store owner-only (0700); existing ones are left."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700)
        os.chmod(new, 0o700)


def connect(
    db_path: str | os.PathLike | None = None, read_only: bool = False, create: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open the store (":memory:" when no path).

    A missing store is created only when `create` (and not read-only); its new folders are 0700
    and its files 0600: DuckDB writes the store, its WAL and temporary files under the umask, so
    the CLI sets 0077 for the whole process (caseflags.environment) and the connection is opened
    under it here too.
    """
    if db_path is None or str(db_path) == ":memory:":
        return duckdb.connect(":memory:")
    path = check_store_path(db_path, create=create and not read_only)
    if not path.exists():
        _private_parents(path.parent)
    old_umask = os.umask(0o077)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    finally:
        os.umask(old_umask)


def store_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file of the connection's database (None in memory)."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else None


def apply_memory_limit(con: duckdb.DuckDBPyConnection, mib: int) -> None:
    """Keep DuckDB's memory for this connection's database within `mib` MiB (`[limits]
    memory_limit_mib`); beyond it DuckDB spills to its temporary folder beside the store
    (`<store>.tmp`, created under the process's umask: 0700). 0 leaves DuckDB's own default
    (80 % of the machine's memory). The number is a validated integer, never data."""
    if int(mib) > 0:
        con.execute(sql_text("store/memory_limit.sql").format(mib=int(mib)))


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
    con.execute(f'CREATE OR REPLACE TABLE "{staged_name}"' + statement[len(f"CREATE TABLE {table}") :])


def create_contract_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ENUM types and every (empty) contract table that does not exist yet."""
    existing_types = {
        r[0]
        for r in con.execute(
            "SELECT type_name FROM duckdb_types() WHERE NOT internal AND database_name = current_database()"
        ).fetchall()
    }
    for stmt in _statements(SCHEMA_SQL.read_text()):
        head = stmt.lstrip()
        if head.upper().startswith("CREATE TYPE"):
            if head.split()[2] not in existing_types:
                con.execute(stmt).fetchall()
        elif head.upper().startswith("CREATE TABLE"):
            con.execute(stmt.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)).fetchall()


# Which (database, regional) each open connection has already ensured: a second call is a no-op.
_ENSURED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, set[tuple[str, bool]]] = weakref.WeakKeyDictionary()


def ensure_store(con: duckdb.DuckDBPyConnection, *, regional: bool = False) -> None:
    """Create everything a store needs in the connection's current database, once per connection:
    the contract's types and (empty) tables, every internal table, the views and the shared macros.
    `regional`: also the regional store's tables (caseflags.region). Existing rows are kept."""
    # Every result fetched to its end: DuckDB refuses other work on a connection with one pending.
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    done = _ENSURED.setdefault(con, set())
    if (database, regional) in done or (database, True) in done:
        return
    create_store_objects(con, regional=regional)
    done.add((database, regional))


def create_store_objects(con: duckdb.DuckDBPyConnection, *, regional: bool = False) -> None:
    """Run every DDL file and install the macros, unconditionally (ensure_store remembers it did;
    an empty template catalog, attached afresh each time, calls this)."""
    create_contract_tables(con)
    for relative_path in (*STORE_DDL, *(REGIONAL_DDL if regional else ()), *STORE_MACROS):
        con.execute(sql_text(relative_path)).fetchall()
