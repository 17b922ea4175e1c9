"""The nightly run of a generated authority, measured side by side with its floor and baselines
(issue 19's goals table).

    .venv/bin/python bench/run.py [--profile large|la|small] [--seed 1] [--repeats 3] [--out bench/out]

Builds its deliveries once (bench/deliveries.py, cached in `bench/data/`): the profile's first
night, the night after it (same seed, as-at + 1 day, ~1 % of rows changed and ~1 % added per
table, the next school day, three new children) and a 12-child delivery. Starts ONE Prefect
server (`prefect server start` on 127.0.0.1, its own PREFECT_HOME) that stays up for the whole
session, as under `caseflags serve`. Then, per repeat and interleaved so that every variant sees
the same machine load, each variant in a fresh Python process (bench/workers.py):

  floor          DuckDB reads every file of the first night once (read_csv, all_varchar): the scan
  floor_next     the same for the next night's files
  nightly        first night: `run_without_prefect` into a fresh store file
  rerun          the same as-at date again on that store, extracts unchanged
  typical        the next night (as-at + 1) on that store: the typical night
  scratch_next   (first repeat) the next night into a fresh store sharing the first night's
                 linkage model: its exceptions must equal the typical night's
  checks4        the four design-card checks (SQL) on the store after the typical night
  gx_only        the same four checks for Great Expectations alone (bench/gx_only.py); its
                 unexpected rows must equal checks4's exception rows
  prefect        the `nightly` Prefect flow, first night into a fresh store, against the server
  twelve_direct  the 12-child delivery, `run_without_prefect`, fresh store: whole process time
  twelve_cli_server / twelve_cli_ephemeral
                 `caseflags run` on the 12-child delivery, with PREFECT_API_URL set to the
                 server / without it (Prefect starts its ephemeral server): whole process time
  twelve_served  the 12-child delivery as a night of `caseflags serve` (one serve process for the
                 session, its warm worker started once; bench/served.py), fresh store per
                 repeat: the flow run's time as Prefect records it
  twelve_served_next
                 the 12-child delivery's next night (as-at + 1, ~1 % of rows changed, three new
                 children) served on the store twelve_served left: a small authority's usual night

Results: `<out>/<profile>/results.json` and a Markdown summary `<out>/<profile>/results.md`; the
figures quoted in bench/RESULTS.md come from these files. Exit status 1 when the GX-only rows
differ from the checks' rows or the typical night's exceptions or links (person_links: agency,
record, child, method) differ from the from-scratch run's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from deliveries import ensure_data, ensure_next_night, ensure_twelve_children
from prefect_server import PrefectServer
from served import ServedNightly
from workers import WORKERS, worker_main

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
DEFAULT_AS_AT = date(2026, 11, 24)
STAGES = ("ingest", "contracts", "carry", "link", "checks", "outputs")

# Issue 28's goals (issue 19's, with the fixed cost under serve): ratios measured side by side
# in one bench run.
GOALS = {
    "first_night_over_scan": 5.0,
    "typical_night_over_scan": 2.0,
    "rerun_over_scan": 1.0,
    "prefect_over_direct": 1.10,
    "twelve_children_served_s": 3.0,
    "twelve_children_served_next_s": 3.0,
    "twelve_children_direct_s": 3.0,
    "peak_rss_over_input": 2.0,
    "gx_only_over_checks4": 20.0,
}


# --- the session ------------------------------------------------------------------------------


def run_worker(variant: str, result_path: Path, env: dict, **options) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", variant, "--result", str(result_path)]
    for name, value in options.items():
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-4000:])
        raise RuntimeError(f"bench worker {variant} failed with exit status {completed.returncode}")
    result = json.loads(result_path.read_text())
    result["process_seconds"] = wall
    return result


def machine() -> dict:
    import duckdb
    import great_expectations
    import pandas
    import polars

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    prefect_version = subprocess.run(
        [sys.executable, "-c", "import prefect; print(prefect.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "pandas": pandas.__version__,
        "great_expectations": great_expectations.__version__,
        "prefect": prefect_version,
        "kernel": platform.release(),
    }


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def summarise(runs: list[dict]) -> dict:
    by_variant: dict[str, list[dict]] = {}
    for run in runs:
        by_variant.setdefault(run["variant"], []).append(run)
    summary: dict = {}
    for variant, results in by_variant.items():
        entry = {
            "runs": len(results),
            "seconds": [round(r["seconds"], 3) for r in results],
            "median_seconds": median([r["seconds"] for r in results]),
            "process_seconds": [round(r["process_seconds"], 3) for r in results],
            "median_process_seconds": median([r["process_seconds"] for r in results]),
            "max_peak_rss_mib": max(r.get("peak_rss_mib", 0.0) for r in results),
        }
        if "stage_seconds" in results[0]:
            entry["median_stage_seconds"] = {
                s: median([r["stage_seconds"].get(s, 0.0) for r in results]) for s in STAGES
            }
            entry["max_stage_peak_rss_mib"] = {
                s: max(r.get("stage_peak_rss_mib", {}).get(s, 0.0) for r in results) for s in STAGES
            }
        if "phase_seconds" in results[0]:
            entry["median_phase_seconds"] = {
                p: median([r["phase_seconds"][p] for r in results]) for p in results[0]["phase_seconds"]
            }
        if "per_check_seconds" in results[0]:
            entry["median_per_check_seconds"] = {
                c: median([r["per_check_seconds"][c] for r in results]) for c in results[0]["per_check_seconds"]
            }
        if "import_seconds" in results[0]:
            entry["median_import_seconds"] = median([r["import_seconds"] for r in results])
        summary[variant] = entry
    return summary


def compare_rows(checks4: dict, gx: dict) -> dict:
    """Exception keys per check from the SQL checks and from GX; equal sets expected."""
    comparison = {}
    for check_id, rows in checks4["rows"].items():
        sql_keys = {tuple(r) for r in rows}
        gx_keys = {tuple(r) for r in gx["rows"].get(check_id, [])}
        comparison[check_id] = {
            "checks": len(sql_keys),
            "gx_only": len(gx_keys),
            "equal": sql_keys == gx_keys,
            "only_checks": sorted(sql_keys - gx_keys)[:20],
            "only_gx": sorted(gx_keys - sql_keys)[:20],
        }
    return comparison


def _ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def ratios(summary: dict, input_bytes: int | None) -> dict:
    med = lambda v, key="median_seconds": summary.get(v, {}).get(key)  # noqa: E731
    out = {
        "first_night_over_scan": _ratio(med("nightly"), med("floor")),
        "typical_night_over_scan": _ratio(med("typical"), med("floor_next")),
        "rerun_over_scan": _ratio(med("rerun"), med("floor")),
        "prefect_over_direct": _ratio(med("prefect"), med("nightly"), 3),
        "prefect_minus_direct_s": (
            round(med("prefect") - med("nightly"), 2)
            if med("prefect") is not None and med("nightly") is not None
            else None
        ),
        "twelve_children_served_s": med("twelve_served"),
        "twelve_children_served_next_s": med("twelve_served_next"),
        "twelve_children_served_next_trigger_s": med("twelve_served_next", "median_process_seconds"),
        "twelve_children_served_trigger_s": med("twelve_served", "median_process_seconds"),
        "twelve_children_direct_s": med("twelve_direct", "median_process_seconds"),
        "twelve_children_cli_server_s": med("twelve_cli_server", "median_process_seconds"),
        "twelve_children_cli_ephemeral_s": med("twelve_cli_ephemeral", "median_process_seconds"),
        "gx_only_over_checks4": _ratio(med("gx_only"), med("checks4"), 1),
    }
    if out["twelve_children_cli_server_s"] is not None and out["twelve_children_direct_s"] is not None:
        out["twelve_children_prefect_server_s"] = round(
            out["twelve_children_cli_server_s"] - out["twelve_children_direct_s"], 2
        )
    if out["twelve_children_cli_ephemeral_s"] is not None and out["twelve_children_direct_s"] is not None:
        out["twelve_children_prefect_ephemeral_s"] = round(
            out["twelve_children_cli_ephemeral_s"] - out["twelve_children_direct_s"], 2
        )
    if "gx_only" in summary and "checks4" in summary:
        out["gx_validate_only_over_checks4"] = _ratio(
            summary["gx_only"]["median_phase_seconds"]["validate"], med("checks4"), 1
        )
    peaks = [summary[v]["max_peak_rss_mib"] for v in ("nightly", "rerun", "typical") if v in summary]
    if peaks and input_bytes:
        out["peak_rss_mib"] = max(peaks)
        out["input_mib"] = round(input_bytes / 2**20, 1)
        out["peak_rss_over_input"] = round(max(peaks) * 2**20 / input_bytes, 2)
    return {k: v for k, v in out.items() if v is not None}


def goals(ratio: dict) -> dict:
    """Each goal of issue 19 with the measured value and whether it is met."""
    met = {}
    for name, goal in GOALS.items():
        value = ratio.get(name)
        if value is None:
            continue
        ok = value >= goal if name == "gx_only_over_checks4" else value <= goal
        met[name] = {"value": value, "goal": goal, "met": ok}
    return met


def markdown(results: dict) -> str:
    s, m = results["summary"], results["machine"]
    lines = [
        f"Profile `{results['profile']}` seed {results['seed']}, first night as at {results['as_at']}, "
        f"typical night as at {results['next_as_at']}: {results['repeats']} repeats, interleaved, medians. "
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"DuckDB {m['duckdb']}, polars {m['polars']}, pandas {m['pandas']}, GX {m['great_expectations']}, "
        f"Prefect {m['prefect']}. Load average (1/5/15 min) at start {results['loadavg_start']}, "
        f"at end {results['loadavg_end']}. Session {results['session_seconds']} s.",
        "",
        "| variant | median s | runs (s) | median process s | peak RSS MiB | load avg (1 min) start→end |",
        "|---|---:|---|---:|---:|---|",
    ]
    for variant, entry in s.items():
        loads = ", ".join(
            f"{r['loadavg_start'][0]:.1f}→{r['loadavg_end'][0]:.1f}" for r in results["runs"] if r["variant"] == variant
        )
        lines.append(
            f"| {variant} | {entry['median_seconds']:.2f} | {', '.join(f'{x:.2f}' for x in entry['seconds'])} | "
            f"{entry['median_process_seconds']:.2f} | {entry['max_peak_rss_mib']:.0f} | {loads} |"
        )
    staged = [
        v
        for v in (
            "nightly",
            "rerun",
            "typical",
            "scratch_next",
            "prefect",
            "twelve_direct",
            "twelve_served",
            "twelve_served_next",
        )
        if v in s and "median_stage_seconds" in s[v]
    ]
    if staged:
        lines += [
            "",
            "| stage (median s; peak RSS MiB) | " + " | ".join(staged) + " |",
            "|---|" + "---:|" * len(staged),
        ]
        for stage in STAGES:
            lines.append(
                f"| {stage} | "
                + " | ".join(
                    f"{s[v]['median_stage_seconds'][stage]:.2f}; {s[v]['max_stage_peak_rss_mib'][stage]:.0f}"
                    for v in staged
                )
                + " |"
            )
    lines += ["", "Ratios: " + ", ".join(f"{k} = {v}" for k, v in results["ratios"].items())]
    lines += ["", "| goal | value | goal | met |", "|---|---:|---:|---|"]
    lines += [
        f"| {k} | {v['value']} | {v['goal']} | {'yes' if v['met'] else 'NO'} |" for k, v in results["goals"].items()
    ]
    if results.get("typical_equals_scratch") is not None:
        lines += [
            "",
            "Typical night's exceptions equal the from-scratch run's on the same data: "
            + ("yes" if results["typical_equals_scratch"]["equal"] else "NO")
            + f" ({results['typical_equals_scratch']['typical']} / {results['typical_equals_scratch']['scratch']} rows)",
        ]
    if results.get("typical_links_equal_scratch") is not None:
        links = results["typical_links_equal_scratch"]
        lines += [
            "",
            "Typical night's links (person_links: agency, record, child, method) equal the from-scratch "
            "run's: " + ("yes" if links["equal"] else "NO") + f" ({links['typical']} / {links['scratch']} links)",
        ]
    if results.get("rows_equal") is not None:
        lines += [
            "",
            "GX-only rows equal to the checks' rows: "
            + ("yes" if results["rows_equal"] else "NO")
            + " — "
            + ", ".join(f"{c} {v['checks']}/{v['gx_only']}" for c, v in results["row_comparison"].items()),
        ]
    if results.get("agreement"):
        from caseflags.sample_data.compare_truth import CheckAgreement, markdown_table

        lines += [
            "",
            "Agreement of the first night with ground truth:",
            "",
            markdown_table(
                [
                    CheckAgreement(
                        a["check_id"],
                        a["truth"],
                        a["found"],
                        a["matched"],
                        tuple(map(tuple, a["missed"])),
                        tuple(map(tuple, a["unexpected"])),
                    )
                    for a in results["agreement"]
                ]
            ),
        ]
    return "\n".join(lines) + "\n"


def cli_supports(option: str, env: dict) -> bool:
    completed = subprocess.run(
        [sys.executable, "-m", "caseflags", "run", "--help"], env=env, capture_output=True, text=True
    )
    return option in completed.stdout


def run_cli(variant: str, env: dict, delivery: Path, as_at: date, store: Path, reports: Path, new_store: bool) -> dict:
    """`caseflags run` as an operator types it: whole process wall time."""
    command = [
        sys.executable,
        "-m",
        "caseflags",
        "run",
        "--extracts",
        str(delivery),
        "--as-at",
        as_at.isoformat(),
        "--db",
        str(store),
        "--out",
        str(reports),
    ] + (["--new-store"] if new_store else [])
    load = os.getloadavg()
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-2000:] + completed.stderr[-4000:])
        raise RuntimeError(f"{variant}: caseflags run failed with exit status {completed.returncode}")
    return {
        "variant": variant,
        "seconds": wall,
        "process_seconds": wall,
        "loadavg_start": [round(x, 2) for x in load],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def assemble(
    args,
    runs,
    as_at,
    next_at,
    started,
    load_start,
    server,
    first,
    nxt,
    twelve,
    rows_equal,
    row_comparison,
    typical_vs_scratch,
    agreement_rows,
    machine_info,
    links_vs_scratch=None,
    served=None,
) -> dict:
    summary = summarise(runs)
    input_bytes = next((r["bytes"] for r in runs if r["variant"] == "floor"), None)
    ratio = ratios(summary, input_bytes)
    return {
        "profile": args.profile,
        "seed": args.seed,
        "as_at": as_at.isoformat(),
        "next_as_at": next_at.isoformat(),
        "repeats": len({r["repeat"] for r in runs}),
        "session_seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info,
        "loadavg_start": load_start,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "prefect_server_start_seconds": round(server.started_in, 2) if server is not None else None,
        "serve_ready_seconds": round(served.ready_in, 2) if served is not None else None,
        "deliveries": {
            "first": str(first),
            "next": str(nxt),
            "twelve": str(twelve) if twelve else None,
            "next_churn": json.loads((nxt / "manifest.json").read_text()).get("churn"),
        },
        "summary": summary,
        "ratios": ratio,
        "goals": goals(ratio),
        "rows_equal": rows_equal,
        "row_comparison": row_comparison,
        "typical_equals_scratch": typical_vs_scratch,
        "typical_links_equal_scratch": links_vs_scratch,
        "agreement": agreement_rows,
        "runs": runs,
    }


def write_results(out: Path, results: dict, final: bool) -> None:
    name = "results" if final else "results-partial"
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    if final:
        (out / "results.md").write_text(markdown(results))
        (out / "results-partial.json").unlink(missing_ok=True)


def session(args) -> int:
    as_at = date.fromisoformat(args.as_at)
    next_at = as_at + timedelta(days=1)
    data_dir = Path(args.data_dir)
    first = ensure_data(args.profile, args.seed, as_at, data_dir)
    nxt = ensure_next_night(first, args.seed, next_at)
    twelve = None
    if args.fixed_repeats or args.served_repeats:
        from caseflags.sample_data import SAMPLE_DELIVERY

        twelve = ensure_twelve_children(SAMPLE_DELIVERY, DEFAULT_AS_AT, data_dir)
        twelve_next = ensure_next_night(twelve, args.seed, DEFAULT_AS_AT + timedelta(days=1))
    out = Path(args.out).resolve() / args.profile
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "False",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    env.pop("PREFECT_API_URL", None)
    new_store = bool(args.fixed_repeats) and cli_supports("--new-store", env)
    runs: list[dict] = []
    rows_equal = row_comparison = agreement_rows = typical_vs_scratch = links_vs_scratch = served = None
    load_start = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()

    def session_results(machine_info: dict | None) -> dict:
        """The session's figures so far (read when called: the loop below updates them)."""
        return assemble(
            args,
            runs,
            as_at,
            next_at,
            started,
            load_start,
            server,
            first,
            nxt,
            twelve,
            rows_equal,
            row_comparison,
            typical_vs_scratch,
            agreement_rows,
            machine_info,
            links_vs_scratch,
            served,
        )

    need_server = args.prefect_repeats > 0 or args.fixed_repeats > 0 or args.served_repeats > 0
    server = PrefectServer(work / "prefect-server", env) if need_server else None
    if server is not None:
        server.__enter__()
        print(f"prefect server up at {server.api_url} in {server.started_in:.1f} s", flush=True)
    server_env = {**env, "PREFECT_API_URL": server.api_url} if server is not None else None
    try:
        if args.served_repeats and server_env is not None:
            served = ServedNightly(server_env, twelve, work / "served").__enter__()
            print(f"caseflags serve ready (warm worker) in {served.ready_in:.1f} s", flush=True)
        for repeat in range(args.repeats):
            store = work / f"store-{repeat}.duckdb"
            reports = work / f"reports-{repeat}"

            def record(result: dict) -> dict:
                result["repeat"] = repeat
                runs.append(result)
                print(
                    f"[{args.profile} #{repeat}] {result['variant']}: {result['seconds']:.2f} s "
                    f"(process {result['process_seconds']:.2f} s), peak {result.get('peak_rss_mib', 0):.0f} MiB"
                    f" (load {result['loadavg_start'][0]:.1f})",
                    flush=True,
                )
                return result

            def measure(variant: str, data: Path, at: date, run_env: dict = env, **options) -> dict:
                result = run_worker(
                    variant, work / f"{variant}-{repeat}.json", run_env, data=str(data), as_at=at.isoformat(), **options
                )
                return record(result)

            measure("floor", first, as_at)
            measure("floor_next", nxt, next_at)
            nightly = measure("nightly", first, as_at, store=store, reports=reports, truth=1 if repeat == 0 else None)
            if repeat == 0:
                agreement_rows = nightly.pop("agreement", None)
            measure("rerun", first, as_at, store=store, reports=reports)
            typical = measure("typical", nxt, next_at, store=store, reports=reports, keys=1 if repeat == 0 else None)
            if repeat == 0 and not args.skip_scratch:
                scratch = measure(
                    "scratch_next",
                    nxt,
                    next_at,
                    store=work / "scratch-next.duckdb",
                    reports=work / "scratch-reports",
                    keys=1,
                    model=str(store.with_suffix(".linkage-model.json")),
                )
                a, b = ({tuple(k) for k in r.pop("exception_keys")} for r in (typical, scratch))
                typical_vs_scratch = {
                    "equal": a == b,
                    "typical": len(a),
                    "scratch": len(b),
                    "only_typical": sorted(a - b)[:20],
                    "only_scratch": sorted(b - a)[:20],
                }
                a, b = ({tuple(k) for k in r.pop("link_keys")} for r in (typical, scratch))
                links_vs_scratch = {
                    "equal": a == b,
                    "typical": len(a),
                    "scratch": len(b),
                    "only_typical": sorted(a - b)[:20],
                    "only_scratch": sorted(b - a)[:20],
                }
            typical.pop("exception_keys", None)
            typical.pop("link_keys", None)
            if not args.skip_gx:
                checks4 = measure("checks4", nxt, next_at, store=store)
                gx = measure("gx_only", nxt, next_at, store=store)
                comparison = compare_rows(checks4, gx)
                equal = all(c["equal"] for c in comparison.values())
                rows_equal = equal if rows_equal is None else rows_equal and equal
                row_comparison = comparison
                checks4.pop("rows")
                gx.pop("rows")
            if repeat < args.prefect_repeats:
                measure(
                    "prefect",
                    first,
                    as_at,
                    server_env,
                    store=work / f"prefect-{repeat}.duckdb",
                    reports=work / f"prefect-reports-{repeat}",
                )
            if served is not None and repeat < args.served_repeats:
                served_store = work / f"twelve-served-{repeat}.duckdb"
                served_reports = work / f"twelve-served-reports-{repeat}"
                record(served.run("twelve_served", DEFAULT_AS_AT, served_store, served_reports))
                # The small authority's next night on the store its first night left (its model
                # trained, 1 % of rows changed, three new children): the common served night.
                record(
                    served.run(
                        "twelve_served_next",
                        DEFAULT_AS_AT + timedelta(days=1),
                        served_store,
                        served_reports,
                        delivery=twelve_next,
                        new_store=False,
                    )
                )
            if twelve is not None and repeat < args.fixed_repeats:
                measure(
                    "twelve_direct",
                    twelve,
                    DEFAULT_AS_AT,
                    store=work / f"twelve-direct-{repeat}.duckdb",
                    reports=work / f"twelve-direct-reports-{repeat}",
                )
                record(
                    run_cli(
                        "twelve_cli_server",
                        server_env,
                        twelve,
                        DEFAULT_AS_AT,
                        work / f"twelve-server-{repeat}.duckdb",
                        work / f"twelve-server-reports-{repeat}",
                        new_store,
                    )
                )
                if repeat < args.ephemeral_repeats:
                    record(
                        run_cli(
                            "twelve_cli_ephemeral",
                            env,
                            twelve,
                            DEFAULT_AS_AT,
                            work / f"twelve-ephemeral-{repeat}.duckdb",
                            work / f"twelve-ephemeral-reports-{repeat}",
                            new_store,
                        )
                    )
            # Figures so far, after every repeat: a session cut short still leaves its medians.
            write_results(out, session_results(None), final=False)
            if repeat < args.repeats - 1:  # keep the last store for inspection; the others are large
                for pattern in (f"store-{repeat}.*", f"prefect-{repeat}.*", "scratch-next.*"):
                    for path in work.glob(pattern):
                        path.unlink()
    finally:
        if served is not None:
            served.__exit__()
        if server is not None:
            server.__exit__()

    results = session_results(machine())
    write_results(out, results, final=True)
    print(markdown(results))
    status = 0
    if rows_equal is False:
        print("GX-only rows differ from the checks' rows", file=sys.stderr)
        status = 1
    if typical_vs_scratch is not None and not typical_vs_scratch["equal"]:
        print("the typical night's exceptions differ from the from-scratch run's", file=sys.stderr)
        status = 1
    if links_vs_scratch is not None and not links_vs_scratch["equal"]:
        print("the typical night's links differ from the from-scratch run's", file=sys.stderr)
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="large", choices=("small", "la", "large"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-at", default=DEFAULT_AS_AT.isoformat())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prefect-repeats", type=int, default=3, help="repeats of the Prefect flow (0: no server)")
    parser.add_argument("--fixed-repeats", type=int, default=3, help="repeats of the 12-child delivery runs")
    parser.add_argument(
        "--ephemeral-repeats", type=int, default=3, help="of those, repeats of `caseflags run` without a server"
    )
    parser.add_argument(
        "--served-repeats",
        type=int,
        default=3,
        help="repeats of the 12-child delivery as a night of `caseflags serve` (0: none)",
    )
    parser.add_argument("--skip-gx", action="store_true", help="leave out the checks4 / gx_only comparison")
    parser.add_argument("--skip-scratch", action="store_true", help="leave out the from-scratch next night")
    parser.add_argument("--out", default=str(BENCH_DIR / "out"))
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="cache of generated deliveries")
    # worker mode (internal)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--result")
    parser.add_argument("--data")
    parser.add_argument("--store")
    parser.add_argument("--reports")
    parser.add_argument("--truth")
    parser.add_argument("--keys")
    parser.add_argument("--model")
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0
    return session(args)


if __name__ == "__main__":
    sys.exit(main())
