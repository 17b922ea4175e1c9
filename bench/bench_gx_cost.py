"""Where the data-contract stage's time goes: Great Expectations' own cost per table and per
expectation, beside the time DuckDB spends on the statements GX sends.

    .venv/bin/python bench/bench_gx_cost.py --store bench/out/la/work/store-2.duckdb [--as-at 2026-11-25]

Validates every contract table of a loaded store (a copy is opened, so the bench's store is not
changed) with `run_contract_suites`, one table at a time, in three configurations, interleaved
over --repeats:

  all        every expectation (trust_table_definition=False), on the same pass/fail path
  trusted    the default: expectations the table's NOT NULL / ENUM definition proves are left out
  import     `import great_expectations` in a fresh process (paid once per run that validates)

Per table: expectations, SQL statements, wall time, the part of it inside DuckDB (SQLAlchemy
cursor-execute events) and the rest (GX: suite and metric graphs, SQL compilation, results).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def measure_tables(con, tables: list[str], as_at: date, previous: dict[str, int], trust: bool) -> dict[str, dict]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from caseflags.contracts import suites

    clock = {"sql": 0.0, "statements": 0}
    started: dict[int, float] = {}

    def before(conn, cursor, statement, params, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        clock["sql"] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())
        clock["statements"] += 1

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    out = {}
    try:
        for table in tables:
            clock.update(sql=0.0, statements=0)
            t0 = time.perf_counter()
            results = suites.run_contract_suites(
                con, [table], as_at, previous_row_counts=previous, trust_table_definition=trust
            )
            wall = time.perf_counter() - t0
            out[table] = {
                "expectations": len(results),
                "statements": clock["statements"],
                "seconds": wall,
                "sql_seconds": clock["sql"],
                "gx_seconds": wall - clock["sql"],
                "failed": sum(not r.success for r in results),
            }
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    return out


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--as-at", default="2026-11-25")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import duckdb

    from caseflags.contracts import suites

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "store.duckdb"
        shutil.copy(args.store, copy)
        con = duckdb.connect(str(copy))
        tables = sorted(suites.contract_catalog())
        previous = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        as_at = date.fromisoformat(args.as_at)
        import great_expectations  # noqa: F401  (measured separately, in a fresh process)

        runs: dict[str, list[dict]] = {"all": [], "trusted": []}
        imports = []
        for _ in range(args.repeats):
            for config, trust in (("all", False), ("trusted", True)):
                runs[config].append(measure_tables(con, tables, as_at, previous, trust))
            imports.append(import_seconds())
        con.close()

    def med(config: str, table: str, key: str) -> float:
        return statistics.median(r[table][key] for r in runs[config])

    report = {"import_seconds": statistics.median(imports), "imports": imports, "tables": {}}
    lines = [
        f"`import great_expectations`: median {report['import_seconds']:.2f} s "
        f"({', '.join(f'{x:.2f}' for x in imports)})",
        "",
        "| table | rows | exp. all → trusted | statements | s all | s trusted | of which DuckDB | of which GX |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    totals = {k: 0.0 for k in ("all", "trusted", "sql", "gx")}
    count = {"all": 0, "trusted": 0}
    for table in tables:
        a, t = runs["all"][0][table], runs["trusted"][0][table]
        row = {
            "rows": previous[table],
            "expectations_all": a["expectations"],
            "expectations_trusted": t["expectations"],
            "statements_all": a["statements"],
            "statements_trusted": t["statements"],
            "seconds_all": med("all", table, "seconds"),
            "seconds_trusted": med("trusted", table, "seconds"),
            "sql_seconds_trusted": med("trusted", table, "sql_seconds"),
            "gx_seconds_trusted": med("trusted", table, "gx_seconds"),
        }
        report["tables"][table] = row
        totals["all"] += row["seconds_all"]
        totals["trusted"] += row["seconds_trusted"]
        totals["sql"] += row["sql_seconds_trusted"]
        totals["gx"] += row["gx_seconds_trusted"]
        count["all"] += a["expectations"]
        count["trusted"] += t["expectations"]
        lines.append(
            f"| {table} | {previous[table]:,} | {a['expectations']} → {t['expectations']} | "
            f"{a['statements']} → {t['statements']} | {row['seconds_all']:.2f} | {row['seconds_trusted']:.2f} | "
            f"{row['sql_seconds_trusted']:.2f} | {row['gx_seconds_trusted']:.2f} |"
        )
    lines.append(
        f"| **total** | | {count['all']} → {count['trusted']} | | {totals['all']:.2f} | {totals['trusted']:.2f} | "
        f"{totals['sql']:.2f} | {totals['gx']:.2f} |"
    )
    per_exp_all = totals["all"] / max(count["all"], 1)
    per_exp_trusted = totals["trusted"] / max(count["trusted"], 1)
    lines += [
        "",
        f"Per expectation: {per_exp_all * 1000:.0f} ms (all), {per_exp_trusted * 1000:.0f} ms (trusted); "
        f"per table: {totals['all'] / len(tables):.2f} s (all), {totals['trusted'] / len(tables):.2f} s (trusted).",
    ]
    report["totals"] = totals
    report["expectations"] = count
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
