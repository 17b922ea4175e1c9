"""One place creates the store (issue 29.4): ensure_store runs every DDL file once per connection,
keeps existing rows, and installs the shared macros for every query of the store."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb

from caseflags.checking.calendar import ensure_working_days
from caseflags.resources import SQL_DIR
from caseflags.store.database import (
    REGIONAL_DDL,
    STORE_DDL,
    STORE_MACROS,
    connect,
    create_store_objects,
    ensure_store,
)

PACKAGE = Path(__file__).resolve().parents[1] / "caseflags"
# DDL files that are not the store's: the web workspace (SQLite), and what the nightly derives
# into the store or the web snapshot from a run's results (filled as they are made).
NOT_STORE_DDL = {
    "web/workspace_schema.sql",
    "web/snapshot_tables.sql",
    "web/priority_owner_tables.sql",
    "web/exception_agency_rows.sql",
}


def _objects(con, kind: str) -> set[str]:
    if kind == "macro":
        query = "SELECT function_name FROM duckdb_functions() WHERE function_type IN ('macro', 'table_macro') AND NOT internal"
    else:
        query = (
            "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal"
        )
    return {row[0] for row in con.execute(query).fetchall()}


def _declared(relative_path: str, kind: str) -> set[str]:
    pattern = {
        "table": r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)",
        "macro": r"CREATE\s+(?:OR\s+REPLACE\s+)?MACRO\s+(\w+)",
    }[kind]
    code = "\n".join(line.split("--", 1)[0] for line in (SQL_DIR / relative_path).read_text().splitlines())
    return set(re.findall(pattern, code, re.IGNORECASE))


def test_every_ddl_file_of_the_store_is_run_once_by_ensure_store():
    ddl_files = {
        p.relative_to(SQL_DIR).as_posix()
        for p in SQL_DIR.rglob("*.sql")
        if re.search(r"CREATE\s+(TABLE|OR REPLACE VIEW)", p.read_text(), re.IGNORECASE)
    }
    listed = [*STORE_DDL, *REGIONAL_DDL]
    assert len(listed) == len(set(listed))  # none twice
    assert ddl_files - NOT_STORE_DDL == set(listed) | {"schema.sql"}


def test_ensure_store_creates_every_table_view_and_macro():
    con = connect()
    ensure_store(con, regional=True)
    tables = _objects(con, "table")
    for relative_path in (*STORE_DDL, *REGIONAL_DDL, "schema.sql"):
        assert _declared(relative_path, "table") <= tables, relative_path
    macros = _objects(con, "macro")
    for relative_path in STORE_MACROS:
        assert _declared(relative_path, "macro") and _declared(relative_path, "macro") <= macros, relative_path
    # An authority's store has no regional tables.
    authority = connect()
    ensure_store(authority)
    assert not _declared("region/tables.sql", "table") & _objects(authority, "table")


def test_a_second_call_in_the_same_connection_is_a_no_op():
    con = connect()
    ensure_store(con)
    con.execute("DROP VIEW run_history")
    ensure_store(con)  # remembered for this connection: nothing is run again
    assert "run_history" not in _objects(con, "table")
    create_store_objects(con)  # the unconditional creation puts it back
    assert "run_history" in _objects(con, "table")


def test_an_existing_store_keeps_its_rows_and_gains_the_macros(tmp_path):
    path = tmp_path / "store.duckdb"
    con = connect(path)
    ensure_store(con)
    con.execute(
        "INSERT INTO runs (run_id, as_at, started_at, status) VALUES ('R1', DATE '2026-11-24', now(), 'COMPLETED')"
    )
    con.execute("DROP MACRO severity_rank")  # a store made before the macro existed
    con.close()
    again = connect(path)
    ensure_store(again)
    assert again.execute("SELECT run_id FROM runs").fetchall() == [("R1",)]
    assert again.execute("SELECT severity_rank('HIGH')").fetchall() == [(1,)]
    again.close()
    # The macros live in the store file: a read-only reader (the web's snapshot) can call them.
    reader = duckdb.connect(str(path), read_only=True)
    assert reader.execute("SELECT attendance_class('N'), severity_rank('LOW')").fetchall() == [("unauthorised", 3)]
    reader.close()


def test_the_calendar_table_is_the_store_s_and_filled_for_the_run():
    con = connect()
    ensure_store(con)
    assert con.execute("SELECT count(*) FROM working_days").fetchone() == (0,)
    ensure_working_days(con, date(2026, 11, 24))
    assert con.execute("SELECT working_days_between(DATE '2026-12-24', DATE '2026-12-29')").fetchone() == (1,)


def test_no_module_runs_a_store_ddl_file_itself():
    names = {Path(p).name for p in (*STORE_DDL, *REGIONAL_DDL, *STORE_MACROS)} | {"schema.sql"}
    readers = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name != "resources.py"  # its docstring's example path
        and any(re.search(rf'["/]{re.escape(name)}"', p.read_text(encoding="utf-8")) for name in names)
    ]
    assert readers == ["store/database.py"]


def test_ensure_store_leaves_no_pending_result_on_the_connection():
    # DuckDB refuses register() while a result is pending: the carries register after ensuring.
    import pyarrow as pa

    con = connect()
    for _ in range(2):  # the creating call and the remembered one
        ensure_store(con)
        con.register("_rows", pa.table({"x": [1]}))
        con.unregister("_rows")
