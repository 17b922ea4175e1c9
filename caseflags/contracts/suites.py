"""Great Expectations data-contract suites over whole contract tables.

Ingest already quarantines rows with blank required values, unparseable values, unknown codes
and duplicated keys (row by row: caseflags/contracts/keys.py). These suites guard that the
loaded tables honour the contract as a whole and catch what ingest cannot see row by row: a
delivery far smaller than the previous one and implausible dates.

Suites are generated from `sql/schema.sql` (required columns, code lists, date columns are read
back from DuckDB's catalog of a scratch copy of the schema), plus the date rules below. See docs/CONTRACTS.md for the expectations, the keys chosen and the
measurements behind the execution path.

Execution path ("sql", the default): GX's SQLAlchemy execution engine runs through duckdb-engine
on a cursor of the caller's DuckDB connection (same database instance, so it works for the store
file held by this process and for in-memory stores), so every metric is a set-based query over
the whole table (GX never samples here: the batch is the whole table, no sampler or partitioner is set).
Each table is a GX query asset (`SELECT * FROM <table>`), which spares GX reflecting the table
through duckdb-engine's slow pg_catalog emulation. Expectations the validated table's own NOT NULL
and ENUM definitions prove are not sent (`store_guarantees`), and a suite runs pass/fail first
(BOOLEAN_ONLY: one bundled aggregate query per table), with counts asked only for what failed.
Plain duckdb-engine returns empty metrics to GX 1.24 (GX issues #10738, #11579): GX closes the
SQLAlchemy connection before it fetches, the close rolls back the transaction SQLAlchemy began,
and DuckDB drops the pending result. `_AutocommitConnection` makes begin/commit/rollback no-ops
so the result survives (GX only reads). tests/test_contract_suites.py pins this against GX
upgrades. Run the suites after ingest commits its transaction (a cursor cannot see uncommitted
tables; calling inside an open transaction raises). The "pandas" path (whole table read into a
DataFrame) is kept for the benchmark and as a fallback: 6-10x slower (docs/CONTRACTS.md).

Privacy: results are requested with result_format BASIC and partial_unexpected_count 0, and
only counts are kept: `observed` never carries a value from the data.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Literal

import duckdb

from caseflags.contracts import keys
from caseflags.contracts.schema import load_contract
from caseflags.resources import config_default

# GX must never phone home; set before great_expectations is first imported (it is imported
# lazily below so that commands which never validate do not pay its import time).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

# Importing GX costs about 4.5 s of CPU here (scipy, altair, pydantic models, ...). The nightly
# starts it on a thread while ingest parses its first changed file (polars and DuckDB release the
# GIL), and the contract stage waits for it: `import_gx_in_background`.
_gx_import: threading.Thread | None = None
_gx_import_lock = threading.Lock()


def _import_gx() -> None:
    try:
        import great_expectations  # noqa: F401
    except Exception:  # noqa: BLE001 - the contract stage imports it again and fails there, by name
        pass


def import_gx_in_background() -> None:
    """Start importing Great Expectations on a daemon thread, once per process (idempotent)."""
    global _gx_import
    with _gx_import_lock:
        if _gx_import is None and "great_expectations" not in sys.modules:
            _gx_import = threading.Thread(target=_import_gx, name="caseflags-gx-import", daemon=True)
            _gx_import.start()


def _wait_for_gx_import() -> None:
    thread = _gx_import
    if thread is not None:
        thread.join()


ExecutionPath = Literal["sql", "pandas"]
DEFAULT_EXECUTION_PATH: ExecutionPath = "sql"
DEFAULT_MIN_ROW_FRACTION = config_default("contracts", "min_row_fraction")

# Business keys are enforced row by row at ingest (duplicates quarantined, the rest loaded):
# see caseflags/contracts/keys.py. Re-exported here for callers that read them from the suites.
UNIQUE_KEYS = keys.UNIQUE_KEYS
KEYS_IGNORING_ROWS_WITH_MISSING_PART = keys.KEYS_IGNORING_ROWS_WITH_MISSING_PART

# Dates of birth: never after the as-at date.
DOB_COLUMNS = frozenset({("ssd_person", "pers_dob"), ("agency_records", "dob")})
# Dates that may legitimately lie ahead (bookings, deadlines, planned ends).
SCHEDULED_DATE_COLUMNS = frozenset(
    {
        ("ssd_initial_cp_conference", "icpc_icpc_target_date"),
        ("ssd_initial_cp_conference", "icpc_icpc_date"),
        ("ssd_linked_identifiers", "link_valid_to_date"),
        ("meetings", "scheduled_date"),
        ("plan_actions", "due_date"),
        ("transition_plans", "end_date"),
        ("agency_flags", "end_date"),
        ("attendance_summaries", "period_end"),
    }
)


@dataclass(frozen=True)
class DateRules:
    """Plausible date ranges (warnings, not blocking). Every other DATE column records an event
    that has happened, so it may not lie after as-at + `recorded_grace_days`."""

    earliest: date = date.fromisoformat(config_default("contracts", "earliest_plausible_date"))
    scheduled_horizon_days: int = config_default("contracts", "max_days_after_as_at")
    recorded_grace_days: int = 0

    def latest(self, table: str, column: str, as_at: date) -> date:
        if (table, column) in DOB_COLUMNS:
            return as_at
        if (table, column) in SCHEDULED_DATE_COLUMNS:
            return as_at + timedelta(days=self.scheduled_horizon_days)
        return as_at + timedelta(days=self.recorded_grace_days)


@dataclass(frozen=True)
class TableContract:
    """What sql/schema.sql says about one table."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    code_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreGuarantees:
    """What the definition of the table being validated already enforces on every row: its
    columns, its NOT NULL columns and the code lists of its ENUM columns (read from DuckDB's
    catalog). An expectation these prove cannot fail is not sent to GX."""

    columns: frozenset[str] = frozenset()
    not_null: frozenset[str] = frozenset()
    enum_codes: dict[str, frozenset[str]] = field(default_factory=dict)

    def proves(
        self, kind: str, column: str | None = None, columns: Sequence[str] = (), codes: Sequence[str] = ()
    ) -> bool:
        if kind == "columns":
            return set(columns) <= self.columns
        if kind == "not_null":
            return column in self.not_null
        if kind == "in_set":
            enum = self.enum_codes.get(column)
            return enum is not None and enum <= set(codes)
        return False


NOTHING_GUARANTEED = StoreGuarantees()


@dataclass(frozen=True)
class ContractResult:
    table_name: str
    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_unique
    column_name: str | None  # column, or key columns comma-joined; None for table-level
    success: bool
    blocking: bool
    observed: str  # counts only, never values


@dataclass(frozen=True)
class _Planned:
    """One expectation of a suite, with how to judge and describe its result."""

    expectation: Any  # a gx.expectations.Expectation
    column_name: str | None
    blocking: bool
    describe: Any  # callable(result dict) -> str


# Whole numbers with a meaning: an escalation stage is 0-4; session counts are never negative.
INTEGER_RANGES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("professional_differences", "current_stage"): (0, 4),
    ("attendance_summaries", "possible_sessions"): (0, None),
    ("attendance_summaries", "present_sessions"): (0, None),
    ("attendance_summaries", "authorised_absence_sessions"): (0, None),
    ("attendance_summaries", "unauthorised_absence_sessions"): (0, None),
}


@lru_cache(maxsize=1)
def contract_catalog() -> dict[str, TableContract]:
    """Every contract table's columns, required columns, code lists and DATE columns, from the
    contract read back from sql/schema.sql (`checks/contract.py`, the single reader)."""
    return {
        name: TableContract(
            columns=tuple(spec.column_names),
            required=tuple(spec.required),
            code_lists={c.name: c.codes for c in spec.columns if c.kind == "code"},
            date_columns=tuple(c.name for c in spec.columns if c.duckdb_type == "DATE"),
        )
        for name, spec in load_contract().items()
    }


# --- descriptions of results: counts only --------------------------------------------------


# A description gets GX's result dict, or None for an expectation that passed in the first,
# counts-free pass (its counts were not asked for; see `run_contract_suites`).


def _unexpected_of_rows(result: dict | None) -> str:
    if result is None:
        return "0 unexpected"
    return f"{result.get('unexpected_count') or 0} unexpected of {result.get('element_count') or 0} rows"


def _describe_row_count(previous: int, minimum: int, fraction: float):
    def describe(result: dict | None) -> str:
        observed = f"at least {minimum}" if result is None else result.get("observed_value")
        return f"{observed} rows; previous delivery {previous} rows; minimum {minimum} ({fraction:g} of previous)"

    return describe


def _describe_columns(expected: Sequence[str]):
    def describe(result: dict | None) -> str:
        if result is None:
            return f"all {len(expected)} contract columns present"
        present = set(result.get("observed_value") or [])
        missing = [c for c in expected if c not in present]
        if not missing:
            return f"all {len(expected)} contract columns present"
        return "missing contract columns: " + ", ".join(missing)

    return describe


# --- suite generation ----------------------------------------------------------------------


def build_suite(
    table: str,
    as_at: date,
    previous_row_count: int | None = None,
    min_row_fraction: float = DEFAULT_MIN_ROW_FRACTION,
    date_rules: DateRules = DateRules(),
    date_literal=lambda d: d,
    guaranteed: StoreGuarantees = NOTHING_GUARANTEED,
) -> list[_Planned]:
    """The expectations for one contract table. `date_literal` adapts date bounds to the
    execution path (pandas compares datetime64 columns with Timestamps, SQL with dates).
    Column-set, not-null and code-list expectations that `guaranteed` proves (the validated
    table's own NOT NULL and ENUM definitions, which ingest's typed insert obeyed) are left out."""
    import great_expectations as gx

    E = gx.expectations
    contract = contract_catalog()[table]
    planned: list[_Planned] = []
    if not guaranteed.proves("columns", columns=contract.columns):
        planned.append(
            _Planned(
                E.ExpectTableColumnsToMatchSet(column_set=list(contract.columns), exact_match=False),
                None,
                True,
                _describe_columns(contract.columns),
            )
        )
    if previous_row_count:
        minimum = math.ceil(min_row_fraction * previous_row_count)
        planned.append(
            _Planned(
                E.ExpectTableRowCountToBeBetween(min_value=minimum),
                None,
                True,
                _describe_row_count(previous_row_count, minimum, min_row_fraction),
            )
        )
    for column in contract.required:
        if guaranteed.proves("not_null", column):
            continue
        planned.append(_Planned(E.ExpectColumnValuesToNotBeNull(column=column), column, True, _unexpected_of_rows))
    for column, codes in contract.code_lists.items():
        if guaranteed.proves("in_set", column, codes=codes):
            continue
        planned.append(
            _Planned(
                E.ExpectColumnValuesToBeInSet(column=column, value_set=list(codes)), column, True, _unexpected_of_rows
            )
        )
    for (range_table, column), (low, high) in INTEGER_RANGES.items():
        if range_table == table:
            planned.append(
                _Planned(
                    E.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
                    column,
                    True,
                    _unexpected_of_rows,
                )
            )
    for column in contract.date_columns:
        planned.append(
            _Planned(
                E.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=date_literal(date_rules.earliest),
                    max_value=date_literal(date_rules.latest(table, column, as_at)),
                ),
                column,
                False,
                _unexpected_of_rows,
            )
        )
    return planned


# --- running -------------------------------------------------------------------------------

# Counts only: no unexpected values, no unexpected rows, no unexpected index lists.
# First pass: pass/fail only, so GX asks for no unexpected values at all and every table costs
# its bundled aggregate, row count and key queries. Failures are then re-run with counts.
_PASS_FAIL_FORMAT = {"result_format": "BOOLEAN_ONLY"}
_RESULT_FORMAT = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "return_unique_unexpected": False,
}


def _autocommit_connection_class():
    import duckdb_engine

    class _AutocommitConnection(duckdb_engine.ConnectionWrapper):
        """A cursor of the store connection seen through SQLAlchemy without transaction control.

        GX closes its SQLAlchemy connection before fetching a metric's rows; SQLAlchemy's
        rollback on close makes DuckDB drop the pending result (empty metrics). GX only reads,
        so every statement runs in autocommit and the result survives until it is fetched.
        """

        def begin(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            pass

    return _AutocommitConnection


def _ephemeral_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    # An ephemeral context keeps its configuration in memory, yet GX "saves" it after every asset
    # and batch definition added: the whole configuration, every asset so far, dumped to YAML into
    # an in-memory store that nothing reads back. Quadratic in a night's tables: about a quarter
    # of the contract stage (bench/RESULTS.md, issue 28). Nothing is validated differently.
    context._save_project_config = _keep_config_in_memory
    return context


def _keep_config_in_memory() -> None:
    """An ephemeral context's save: its configuration is already where it is read (in memory)."""


def _in_open_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """In autocommit every statement gets a new transaction id; inside BEGIN ... COMMIT not."""
    first = con.execute("SELECT txid_current()").fetchall()
    return first == con.execute("SELECT txid_current()").fetchall()


def _tables_in_store(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


_ENUM_VALUE = re.compile(r"'((?:[^']|'')*)'")


def store_guarantees(con: duckdb.DuckDBPyConnection, physical: str) -> StoreGuarantees:
    """What the table `physical` enforces by its own definition (DuckDB's catalog)."""
    return all_store_guarantees(con, [physical]).get(physical, NOTHING_GUARANTEED)


def all_store_guarantees(con: duckdb.DuckDBPyConnection, physicals: Sequence[str]) -> dict[str, StoreGuarantees]:
    """`store_guarantees` of several tables, read from the catalog in one query."""
    rows = con.execute(
        """SELECT table_name, column_name, is_nullable, data_type FROM duckdb_columns()
           WHERE schema_name = 'main' AND database_name = current_database() AND list_contains(?, table_name)""",
        [list(physicals)],
    ).fetchall()
    by_table: dict[str, list[tuple]] = {}
    for table, *column in rows:
        by_table.setdefault(table, []).append(tuple(column))
    return {
        table: StoreGuarantees(
            columns=frozenset(name for name, _, _ in columns),
            not_null=frozenset(name for name, nullable, _ in columns if not nullable),
            enum_codes={
                name: frozenset(v.replace("''", "'") for v in _ENUM_VALUE.findall(data_type))
                for name, _, data_type in columns
                if data_type.startswith("ENUM(")
            },
        )
        for table, columns in by_table.items()
    }


def _expectation_key(configuration) -> tuple:
    """Type and column(s) identify an expectation within one of our suites (GX does not return
    results in suite order)."""
    kwargs = configuration.kwargs
    columns = kwargs.get("column_list") or [kwargs.get("column")]
    return (configuration.type, tuple(columns))


def _outcomes(table: str, planned: list[_Planned], validation) -> dict[tuple, Any]:
    outcomes = {_expectation_key(o.expectation_config): o for o in validation.results}
    if len(outcomes) != len(planned):
        raise RuntimeError(f"GX returned {len(outcomes)} results for {len(planned)} expectations of {table}")
    return outcomes


def _raised(outcome) -> bool:
    info = outcome.exception_info or {}
    if "raised_exception" in info:
        return bool(info.get("raised_exception"))
    return any(v.get("raised_exception") for v in info.values() if isinstance(v, dict))


def _validate_table(gx, batch, table: str, planned: list[_Planned]) -> list[ContractResult]:
    """Pass/fail for the whole suite first; only the expectations that failed are validated
    again with counts (a good delivery pays for no counts and no unexpected-value queries)."""
    suite = gx.ExpectationSuite(name=f"contract_{table}", expectations=[p.expectation for p in planned])
    first = _outcomes(table, planned, batch.validate(suite, result_format=_PASS_FAIL_FORMAT))
    failed = [
        p
        for p in planned
        if not first[_expectation_key(p.expectation.configuration)].success
        and not _raised(first[_expectation_key(p.expectation.configuration)])
    ]
    detailed: dict[tuple, Any] = {}
    if failed:
        again = gx.ExpectationSuite(
            name=f"contract_{table}_failed", expectations=[p.expectation.copy() for p in failed]
        )
        detailed = _outcomes(table, failed, batch.validate(again, result_format=_RESULT_FORMAT))
    return _to_results(table, planned, first, detailed)


def _to_results(table: str, planned: list[_Planned], first: dict, detailed: dict) -> list[ContractResult]:
    results = []
    for plan in planned:
        key = _expectation_key(plan.expectation.configuration)
        outcome = detailed.get(key) or first[key]
        if _raised(outcome):
            # An expectation that could not be computed is not a pass. The message may quote
            # SQL or data, so only say that it failed to run.
            observed = "not evaluated: GX could not compute this expectation"
            success = False
        elif key in detailed:
            observed = plan.describe(outcome.result or {})
            success = bool(outcome.success)
        else:
            success = bool(outcome.success)
            observed = plan.describe(None if success else (outcome.result or {}))
        results.append(
            ContractResult(
                table_name=table,
                expectation=outcome.expectation_config.type,
                column_name=plan.column_name,
                success=success,
                blocking=plan.blocking,
                observed=observed,
            )
        )
    return results


def run_contract_suites(
    con: duckdb.DuckDBPyConnection,
    tables: Iterable[str],
    as_at: date,
    previous_row_counts: dict[str, int] | None = None,
    min_row_fraction: float = DEFAULT_MIN_ROW_FRACTION,
    *,
    date_rules: DateRules = DateRules(),
    execution_path: ExecutionPath = DEFAULT_EXECUTION_PATH,
    table_prefix: str = "",
    trust_table_definition: bool = True,
) -> list[ContractResult]:
    """Validate each named contract table (whole table, never a sample) in the store `con`.

    The data validated is the table `<table_prefix><table>` (e.g. a staged copy), judged against
    the contract of `<table>`; results carry the contract table name. A table absent from the
    store yields one blocking failure. `previous_row_counts` holds the row count of the previous
    delivery per table (tables missing from it get no row-count rule). With
    `trust_table_definition` (the default), expectations the table's own NOT NULL / ENUM
    definition proves are not run (see `store_guarantees`); a table without them, e.g. one
    loaded with looser types, gets every expectation.
    """
    _wait_for_gx_import()
    import great_expectations as gx
    import pandas as pd

    catalog = contract_catalog()
    tables = list(tables)
    unknown = [t for t in tables if t not in catalog]
    if unknown:
        raise ValueError(f"not contract tables: {', '.join(unknown)}")
    if not 0 <= min_row_fraction <= 1:
        raise ValueError("min_row_fraction must be between 0 and 1")
    if _in_open_transaction(con):
        # GX reads through its own cursor, which cannot see uncommitted tables, and its
        # catalog reflection raises (harmlessly in autocommit) errors that would abort a
        # transaction. Validating the previous delivery instead would be silently wrong.
        raise RuntimeError("commit the ingest transaction before running the contract suites")
    previous_row_counts = previous_row_counts or {}
    present = _tables_in_store(con)
    guarantees = all_store_guarantees(con, [table_prefix + t for t in tables]) if trust_table_definition else {}

    results: list[ContractResult] = []
    with warnings.catch_warnings():
        # duckdb-engine reflects ENUM/LIST columns as unknown types; GX does not need them typed.
        warnings.simplefilter("ignore")
        context = _ephemeral_context()
        if execution_path == "sql":
            connection_class = _autocommit_connection_class()
            datasource = context.data_sources.add_sql(
                "store",
                connection_string="duckdb:///:memory:",  # never opened: `creator` supplies a cursor
                # A cursor is a second connection to the same database instance (file or memory).
                kwargs={"creator": lambda: connection_class(con.cursor())},
            )
            date_literal = lambda d: d  # noqa: E731
        elif execution_path == "pandas":
            datasource = context.data_sources.add_pandas("store")
            date_literal = pd.Timestamp
        else:
            raise ValueError(f"unknown execution path {execution_path!r}")

        try:
            for table in tables:
                physical = table_prefix + table
                if physical not in present:
                    results.append(
                        ContractResult(
                            table, "expect_table_columns_to_match_set", None, False, True, "table absent from the store"
                        )
                    )
                    continue
                guaranteed = guarantees.get(physical, NOTHING_GUARANTEED)
                planned = build_suite(
                    table, as_at, previous_row_counts.get(table), min_row_fraction, date_rules, date_literal, guaranteed
                )
                if not planned:
                    continue
                if execution_path == "sql":
                    # A query asset, not a table asset: GX then takes the columns from the
                    # statement's result description instead of reflecting the table's columns
                    # and primary key through duckdb-engine's pg_catalog emulation (three slow
                    # catalog queries per table; measured 35-45 % of the stage, docs/CONTRACTS.md).
                    # `physical` is a contract table name (a known identifier), never data.
                    asset = datasource.add_query_asset(table, query=f'SELECT * FROM "{physical}"')
                    batch = asset.add_batch_definition_whole_table("whole_table").get_batch()
                else:
                    asset = datasource.add_dataframe_asset(table)
                    frame = con.table(physical).df()
                    batch = asset.add_batch_definition_whole_dataframe("whole_table").get_batch(
                        batch_parameters={"dataframe": frame}
                    )
                results.extend(_validate_table(gx, batch, table, planned))
        finally:
            if execution_path == "sql":
                datasource.get_engine().dispose()
    return results


# --- storing and summarising ---------------------------------------------------------------


def store_contract_results(con: duckdb.DuckDBPyConnection, run_id: str, results: Sequence[ContractResult]) -> None:
    """Append one run's results to the store table `contract_results`."""
    if not results:
        return
    con.executemany(
        """
        INSERT INTO contract_results (run_id, table_name, expectation, column_name, success, blocking, observed)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        [(run_id, r.table_name, r.expectation, r.column_name, r.success, r.blocking, r.observed) for r in results],
    )


def summarise(results: Sequence[ContractResult]) -> dict[str, dict[str, int | bool]]:
    """Per table: expectations run, failed, blocking failures, and whether the contract held."""
    summary: dict[str, dict[str, int | bool]] = {}
    for r in results:
        entry = summary.setdefault(r.table_name, {"expectations": 0, "failed": 0, "blocking_failures": 0})
        entry["expectations"] += 1
        if not r.success:
            entry["failed"] += 1
            if r.blocking:
                entry["blocking_failures"] += 1
    for entry in summary.values():
        entry["contract_passed"] = entry["blocking_failures"] == 0
    return summary


def failed_tables(results: Sequence[ContractResult]) -> list[str]:
    """Tables with at least one blocking failure: checks that need them are not evaluated."""
    return sorted({r.table_name for r in results if r.blocking and not r.success})
