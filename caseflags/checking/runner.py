"""Run the checks of the registry for an as-at date, in one DuckDB connection.

Every check is one SQL file executed with bound parameters (`$as_at` and its thresholds); the
runner adds the exception id and the catalogue's concern, and records per check whether it was
evaluated. A check whose input tables are absent from the store, or were refused or failed
their contract this run, is NOT_EVALUATED with the reason, never "no exceptions".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import duckdb

from caseflags.checking.calendar import ensure_working_days
from caseflags.checking.registry import MAGNITUDE_COLUMNS, OUTPUT_COLUMNS, Check, load_registry
from caseflags.store.database import create_store_objects, ensure_store

log = logging.getLogger(__name__)

EVALUATED = "EVALUATED"
NOT_EVALUATED = "NOT_EVALUATED"

# Columns a check's rows carry once the runner has added its own (exceptions table order).
RESULT_COLUMNS = ("exception_id", "check_id", "concern", *OUTPUT_COLUMNS)


class CheckNotEvaluated(RuntimeError):
    """A check cannot run because an input table is missing or unavailable."""


@dataclass(frozen=True)
class CheckOutcome:
    check_id: str
    status: str  # EVALUATED / NOT_EVALUATED
    reason: str | None
    exception_count: int
    duration_s: float


def _main_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = current_database()"
    ).fetchall()
    return {row[0] for row in rows}


def _temp_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return {row[0] for row in rows}


def unavailable_reason(check: Check, present: set[str], unavailable_tables: dict[str, str]) -> str | None:
    """Why the check cannot be evaluated, or None when every input (or an alternative) is usable."""
    problems = []
    for alternatives in check.input_alternatives:
        reasons = []
        for table in alternatives:
            if table not in present:
                reasons.append(f"{table}: absent from the store")
            elif table in unavailable_tables:
                reasons.append(f"{table}: {unavailable_tables[table]}")
        if len(reasons) == len(alternatives):  # no alternative usable
            if len(alternatives) == 1:
                problems.append(f"input table {reasons[0]}")
            else:
                problems.append(f"no input among {' or '.join(alternatives)} usable ({'; '.join(reasons)})")
    return "; ".join(problems) if problems else None


class _PreparedConnection:
    """Calendar, macros and empty stand-ins for unusable store tables, for one run.

    A contract or internal store table that is absent or unavailable is shadowed by an empty TEMP table of the
    same name for the duration of the run, so macros and checks with an alternative input
    (e.g. attendance sessions or summaries) bind and read it as empty. Checks that need the
    table itself are never run (see unavailable_reason).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, as_at: date, unusable_tables: set[str]):
        self.con = con
        self.as_at = as_at
        self.unusable_tables = unusable_tables
        self.shadows: list[str] = []

    def __enter__(self) -> _PreparedConnection:
        ensure_store(self.con)  # the shared macros; they read a shadowing TEMP table by its name
        ensure_working_days(self.con, self.as_at)
        wanted = sorted(self.unusable_tables - _temp_tables(self.con))
        with _store_template(self.con) as template:
            for table in wanted:
                # An empty stand-in with the store table's columns and types.
                self.con.execute(f'CREATE TEMP TABLE "{table}" AS SELECT * FROM {template}.main."{table}" LIMIT 0')
                self.shadows.append(table)
        return self

    def __exit__(self, *exc_info) -> None:
        for table in self.shadows:
            self.con.execute(f'DROP TABLE IF EXISTS temp.main."{table}"')


TEMPLATE_CATALOG = "_store_template"


@contextmanager
def _store_template(con: duckdb.DuckDBPyConnection) -> Iterator[str]:
    """An in-memory catalog holding an empty store built from the store's own DDL files."""
    home = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(f"ATTACH ':memory:' AS {TEMPLATE_CATALOG}")
    try:
        con.execute(f"USE {TEMPLATE_CATALOG}")
        try:
            create_store_objects(con)
        finally:
            con.execute(f'USE "{home}"')
        yield TEMPLATE_CATALOG
    finally:
        con.execute(f"DETACH {TEMPLATE_CATALOG}")


def _store_table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    with _store_template(con) as template:
        rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [template]).fetchall()
    return {name for (name,) in rows}


def _unusable_store_tables(con: duckdb.DuckDBPyConnection, unavailable_tables: dict[str, str]) -> set[str]:
    present = _main_tables(con)
    # The runner's own output tables are never stood in for: rows must reach the store.
    return {
        t
        for t in _store_table_names(con)
        if (t not in present or t in unavailable_tables)
        and t not in ("exceptions", "check_runs", "exception_magnitudes")
    }


def _parameters(check: Check, as_at: date, thresholds: dict | None) -> dict:
    values = {"as_at": as_at, **check.threshold_values(thresholds)}
    used = check.parameters()
    return {name: value for name, value in values.items() if name in used}


def _returns_magnitude(con: duckdb.DuckDBPyConnection, check: Check, parameters: dict) -> bool:
    """Whether the check's SELECT returns the optional magnitude columns (all of them)."""
    body = check.sql().strip().rstrip(";")
    used = {k: v for k, v in parameters.items() if not k.startswith("__")}
    columns = {col[0] for col in con.execute(f"SELECT * FROM (\n{body}\n) AS probe LIMIT 0", used).description}
    return set(MAGNITUDE_COLUMNS) <= columns


def _result_query(check: Check, with_magnitude: bool = False) -> str:
    """The check's SELECT wrapped to add exception_id, check_id and concern, its detail ending with
    the catalogue's action and who does it, and the magnitude columns (NULL when the check has none)."""
    body = check.sql().strip().rstrip(";")
    key = "concat_ws('|', $__check_id, coalesce(person_id, ''), agency, entity_type, entity_id)"
    magnitude = (
        "CAST(magnitude AS DOUBLE) AS magnitude, CAST(threshold AS DOUBLE) AS threshold, "
        "CAST(magnitude_unit AS VARCHAR) AS magnitude_unit"
        if with_magnitude
        else "CAST(NULL AS DOUBLE) AS magnitude, CAST(NULL AS DOUBLE) AS threshold, CAST(NULL AS VARCHAR) AS magnitude_unit"
    )
    return f"""
        SELECT
            left(sha1({key}), 16) AS exception_id,
            $__check_id AS check_id,
            $__concern AS concern,
            CAST(person_id AS VARCHAR) AS person_id,
            CAST(agency AS VARCHAR) AS agency,
            CAST(entity_type AS VARCHAR) AS entity_type,
            CAST(entity_id AS VARCHAR) AS entity_id,
            CAST(severity AS VARCHAR) AS severity,
            CAST(detail AS VARCHAR) || $__action_text AS detail,
            CAST(locator AS VARCHAR) AS locator,
            {magnitude}
        FROM (
{body}
        ) AS check_rows
    """


def _check_parameters(check: Check, as_at: date, thresholds: dict | None) -> dict:
    return {
        **_parameters(check, as_at, thresholds),
        "__check_id": check.id,
        "__concern": check.concern,
        "__action_text": check.action_text(),
    }


def run_check(
    con: duckdb.DuckDBPyConnection,
    check_id: str,
    as_at: date,
    thresholds: dict | None = None,
    unavailable_tables: dict[str, str] | None = None,
) -> list[dict]:
    """Evaluate one check and return its exception rows (no store writes).

    Raises CheckNotEvaluated when an input table is absent or listed as unavailable.
    """
    unavailable_tables = unavailable_tables or {}
    check = load_registry()[check_id]
    reason = unavailable_reason(check, _main_tables(con), unavailable_tables)
    if reason:
        raise CheckNotEvaluated(f"{check_id}: {reason}")
    with _PreparedConnection(con, as_at, _unusable_store_tables(con, unavailable_tables)):
        params = _check_parameters(check, as_at, thresholds)
        cursor = con.execute(_result_query(check, _returns_magnitude(con, check, params)), params)
        columns = [col[0] for col in cursor.description]
        rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return sorted(rows, key=lambda row: (row["person_id"] or "", row["agency"], row["entity_type"], row["entity_id"]))


def run_all_checks(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    thresholds_by_check: dict[str, dict] | None = None,
    unavailable_tables: dict[str, str] | None = None,
    check_ids: list[str] | None = None,
    scope: str = "authority",
) -> list[CheckOutcome]:
    """Evaluate every registry check of `scope` (or exactly `check_ids`, whatever their scope), writing
    `exceptions` and `check_runs` rows for run_id.

    An authority's run evaluates the "authority" checks; `caseflags region run` the "region"
    checks, on the regional store.

    A rerun of the same run_id replaces that run's rows for the checks it runs. `unavailable_tables` maps a table to
    why it cannot be used this run (e.g. "refused: missing required column x", "failed
    contract"); the checks reading it are recorded NOT_EVALUATED with that reason.
    """
    thresholds_by_check = thresholds_by_check or {}
    unavailable_tables = unavailable_tables or {}
    registry = load_registry()
    unknown = sorted((set(thresholds_by_check) | set(check_ids or [])) - set(registry))
    if unknown:
        raise KeyError(f"unknown check ids: {', '.join(unknown)}")
    if check_ids is None:
        registry = {check_id: check for check_id, check in registry.items() if check.scope == scope}
    else:
        registry = {check_id: check for check_id, check in registry.items() if check_id in set(check_ids)}

    present = _main_tables(con)
    selected = {"run_id": run_id, "check_ids": list(registry)}
    con.execute("DELETE FROM exceptions WHERE run_id = $run_id AND list_contains($check_ids, check_id)", selected)
    con.execute("DELETE FROM check_runs WHERE run_id = $run_id AND list_contains($check_ids, check_id)", selected)
    con.execute(
        "DELETE FROM exception_magnitudes WHERE run_id = $run_id AND list_contains($check_ids, check_id)", selected
    )

    outcomes: list[CheckOutcome] = []
    with _PreparedConnection(con, as_at, _unusable_store_tables(con, unavailable_tables)):
        for check in registry.values():
            started = time.perf_counter()
            reason = unavailable_reason(check, present, unavailable_tables)
            if reason:
                outcome = CheckOutcome(check.id, NOT_EVALUATED, reason, 0, time.perf_counter() - started)
            else:
                params = _check_parameters(check, as_at, thresholds_by_check.get(check.id))
                try:
                    with_magnitude = _returns_magnitude(con, check, params)
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE _check_rows AS {_result_query(check, with_magnitude)}", params
                    )
                    con.execute(
                        """INSERT INTO exceptions (run_id, as_at, exception_id, check_id, concern, person_id, agency,
                               entity_type, entity_id, severity, detail, locator)
                           SELECT $run_id, $as_at, exception_id, check_id, concern, person_id, agency,
                               entity_type, entity_id, severity, detail, locator
                           FROM _check_rows""",
                        {"run_id": run_id, "as_at": as_at},
                    )
                    con.execute(
                        """INSERT INTO exception_magnitudes
                           SELECT $run_id, check_id, exception_id, magnitude, threshold, magnitude_unit
                           FROM _check_rows WHERE magnitude IS NOT NULL""",
                        {"run_id": run_id},
                    )
                except duckdb.Error as exc:
                    # One broken check must not cost the night its other lists, and must never read
                    # as "no exceptions": it is not evaluated (its open exceptions are carried).
                    # Only the error's type is kept: DuckDB messages can quote data values.
                    log.error("check %s failed with %s; recorded as not evaluated", check.id, type(exc).__name__)
                    outcome = CheckOutcome(
                        check.id,
                        NOT_EVALUATED,
                        f"check failed ({type(exc).__name__}); see the run log",
                        0,
                        time.perf_counter() - started,
                    )
                else:
                    count = con.execute(
                        "SELECT count(*) FROM exceptions WHERE run_id = $run_id AND check_id = $check_id",
                        {"run_id": run_id, "check_id": check.id},
                    ).fetchone()[0]
                    outcome = CheckOutcome(check.id, EVALUATED, None, count, time.perf_counter() - started)
            con.execute(
                "INSERT INTO check_runs (run_id, check_id, status, reason, exception_count) VALUES ($run_id, $check_id, $status, $reason, $count)",
                {
                    "run_id": run_id,
                    "check_id": check.id,
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "count": outcome.exception_count,
                },
            )
            outcomes.append(outcome)
        con.execute("DROP TABLE IF EXISTS temp._check_rows")
    return outcomes
