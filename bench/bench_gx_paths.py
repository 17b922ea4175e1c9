"""Measure the Great Expectations execution paths for the contract suites on a large table.

Builds an `attendance_sessions` table with the contract's types (sql/schema.sql) in a
temporary DuckDB file, then times, side by side in one process, the *same* generated suite
(checks/suites.py: columns present, row count vs previous delivery, unique key
(upn, session_date, session), 4 not-null, 2 code lists, 1 date range) run through:

  gx_sql     GX 1.24 SQLAlchemy engine on the store connection (duckdb-engine, autocommit wrapper)
  gx_pandas  GX 1.24 pandas engine on the whole table read into a DataFrame (read time included)
  duckdb_sql the same checks written by hand as DuckDB SQL (reference floor, no GX)

Each path runs --repeats times per size (interleaved) and the median is reported; every run
builds its own ephemeral GX context, as a nightly run does. Synthetic data only.

    .venv/bin/python bench/bench_gx_paths.py --sizes 1000000 10000000 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from caseflags.contracts import suites
from caseflags.store.database import connect, ensure_store

AS_AT = date(2026, 7, 20)
SESSIONS_PER_PUPIL = 380  # 190 school days x AM/PM


def build_attendance(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """`rows` sessions, unique per (upn, session_date, session), codes spread over the list."""
    con.execute("DELETE FROM attendance_sessions")
    con.execute(
        """
        INSERT INTO attendance_sessions
        WITH numbered AS (SELECT range AS i FROM range($rows))
        SELECT
            'A' || lpad(CAST(i // $per_pupil AS VARCHAR), 12, '0') AS upn,
            CAST(100000 + (i // $per_pupil) % 400 AS VARCHAR) AS school_urn,
            DATE '2025-09-01' + CAST((i % $per_pupil) // 2 AS INTEGER) AS session_date,
            CAST(CASE WHEN i % 2 = 0 THEN 'AM' ELSE 'PM' END AS session_half) AS session,
            CAST(enum_range(NULL::attendance_code)[1 + CAST(hash(i) % 33 AS INTEGER)] AS attendance_code)
                AS attendance_code
        FROM numbered
        """,
        {"rows": rows, "per_pupil": SESSIONS_PER_PUPIL},
    )
    con.execute("CHECKPOINT")


HAND_WRITTEN_SQL = """
WITH column_checks AS (
    SELECT
        count(*) AS row_count,
        count(*) FILTER (WHERE upn IS NULL) AS upn_null,
        count(*) FILTER (WHERE session_date IS NULL) AS session_date_null,
        count(*) FILTER (WHERE session IS NULL) AS session_null,
        count(*) FILTER (WHERE attendance_code IS NULL) AS attendance_code_null,
        count(*) FILTER (WHERE CAST(session AS VARCHAR) NOT IN (SELECT unnest(enum_range(NULL::session_half))))
            AS session_unknown,
        count(*) FILTER (WHERE CAST(attendance_code AS VARCHAR)
            NOT IN (SELECT unnest(enum_range(NULL::attendance_code)))) AS attendance_code_unknown,
        count(*) FILTER (WHERE session_date < $earliest OR session_date > $latest) AS session_date_implausible
    FROM attendance_sessions
),
duplicate_keys AS (
    SELECT coalesce(sum(n), 0) AS duplicate_rows
    FROM (
        SELECT count(*) AS n FROM attendance_sessions
        GROUP BY upn, session_date, session HAVING count(*) > 1
    )
)
SELECT * FROM column_checks, duplicate_keys
"""


def run_gx(con, rows: int, path: str) -> tuple[float, int]:
    start = time.perf_counter()
    results = suites.run_contract_suites(
        con, ["attendance_sessions"], AS_AT, {"attendance_sessions": rows}, execution_path=path
    )
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.success]
    assert not failed, f"{path}: clean synthetic table failed {failed}"
    return elapsed, len(results)


def run_duckdb_sql(con) -> tuple[float, int]:
    start = time.perf_counter()
    row = con.execute(HAND_WRITTEN_SQL, {"earliest": date(1900, 1, 1), "latest": AS_AT}).fetchall()[0]
    elapsed = time.perf_counter() - start
    assert all(v == 0 for v in row[1:]), f"duckdb_sql: clean synthetic table failed {row}"
    return elapsed, len(row) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paths", nargs="+", default=["gx_sql", "gx_pandas", "duckdb_sql"])
    args = parser.parse_args()

    import great_expectations as gx

    print(
        f"# GX {gx.__version__}, duckdb {duckdb.__version__}, python {platform.python_version()}, "
        f"{platform.machine()}, repeats={args.repeats}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(Path(tmp) / "bench.duckdb")
        ensure_store(con)
        # Warm up imports and GX's expectation registry so the first timed run is not penalised.
        build_attendance(con, 1000)
        run_gx(con, 1000, "sql")
        run_gx(con, 1000, "pandas")

        table = []
        for rows in args.sizes:
            build_attendance(con, rows)
            timings: dict[str, list[float]] = {p: [] for p in args.paths}
            counts: dict[str, int] = {}
            for _ in range(args.repeats):
                for path in args.paths:
                    if path == "duckdb_sql":
                        elapsed, n = run_duckdb_sql(con)
                    else:
                        elapsed, n = run_gx(con, rows, path.removeprefix("gx_"))
                    timings[path].append(elapsed)
                    counts[path] = n
                    print(f"  {rows:>11,} rows  {path:<10} {elapsed:8.2f} s", flush=True)
            for path in args.paths:
                table.append((rows, path, counts[path], statistics.median(timings[path]), timings[path]))
        con.close()

    print("\n| rows | path | checks | median s | runs s |")
    print("|---:|---|---:|---:|---|")
    for rows, path, n, median, runs in table:
        print(f"| {rows:,} | {path} | {n} | {median:.2f} | {', '.join(f'{t:.2f}' for t in runs)} |")


if __name__ == "__main__":
    main()
