"""The nightly run of a generated authority, measured side by side with its floor and baselines.

    .venv/bin/python bench/run.py [--profile large|la|small] [--seed 1] [--repeats 3] [--out bench/out]

Generates the profile once (cached in `bench/data/<profile>-seed<N>/`, git-ignored), then, per
repeat and interleaved so that every variant sees the same machine load:

  floor      DuckDB reads every extract file once (read_csv, all_varchar) and counts its rows
  nightly    `run_without_prefect` into a fresh store file: per-stage wall time and peak RSS
  rerun      the same as-at date again on that store with the extracts unchanged
  checks4    the four design-card checks as caseflags runs them (SQL), on that loaded store
  gx_only    the same four checks written for Great Expectations alone (bench/gx_only.py), on
             the same store; its unexpected rows must equal checks4's exception rows
  prefect    (first repeat only, --prefect-repeats) the `nightly` Prefect flow, fresh store

Every measured variant runs in a fresh Python process (so its peak RSS is its own ru_maxrss;
a sampling thread also gives the peak per stage). Results: `<out>/<profile>/results.json` and
a Markdown summary `<out>/<profile>/results.md`; the figures quoted in bench/RESULTS.md come
from these files. Exit status 1 when the GX-only rows differ from the checks' rows.

Over 500 lines on purpose: one script so a benchmark run is one command with one set of
side-by-side figures; its parts (data, workers, summary) are sections below.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
DEFAULT_AS_AT = date(2026, 11, 24)
STAGES = ("ingest", "contracts", "link", "checks", "outputs")

# Targets of issue 9 (large profile, this 2-core machine).
TARGETS = {
    "nightly_max_s": 60.0,
    "nightly_max_floor_ratio": 3.0,
    "peak_rss_max_mib": 4096.0,
    "checks_min_speedup_vs_gx": 20.0,
    "rerun_max_s": 10.0,
}


# --- data -----------------------------------------------------------------------------------


def ensure_data(profile: str, seed: int, as_at: date, data_dir: Path = DATA_DIR) -> Path:
    """The generated delivery, generated once: written aside, then renamed into place."""
    folder = data_dir / f"{profile}-seed{seed}"
    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("as_at") == as_at.isoformat():
        return folder
    from caseflags.sample_data.generator import generate

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    generate(profile, seed, partial, as_at=as_at)
    partial.rename(folder)
    print(f"generated {profile} seed {seed} in {time.perf_counter() - started:.0f} s -> {folder}", flush=True)
    return folder


def extract_files(delivery: Path) -> list[Path]:
    return sorted(p for p in delivery.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet"))


# --- measuring inside a worker ----------------------------------------------------------------


class RssSampler:
    """Peak resident memory of this process, overall and per labelled stage (sampled every 20 ms)."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.stage: str | None = None
        self.peaks: dict[str, int] = {}
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        rss = self._rss()
        key = self.stage or "_between"
        if rss > self.peaks.get(key, 0):
            self.peaks[key] = rss

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peaks_mib(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in self.peaks.items()}


@contextmanager
def stage_labels(sampler: RssSampler):
    """Label RSS samples with the pipeline stage running (wraps `pipeline.timed`)."""
    from caseflags import runbook as pipeline

    original = pipeline.timed

    @contextmanager
    def labelled(state, stage):
        sampler.sample()
        sampler.stage = stage
        try:
            with original(state, stage):
                yield
        finally:
            sampler.sample()
            sampler.stage = None

    pipeline.timed = labelled
    try:
        yield
    finally:
        pipeline.timed = original


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def worker_floor(args) -> dict:
    import duckdb

    con = duckdb.connect()
    rows = {}
    started = time.perf_counter()
    for path in extract_files(Path(args.data)):
        reader = "read_parquet(?)" if path.suffix.lower() == ".parquet" else "read_csv(?, header = true, all_varchar = true)"
        rows[path.name] = con.execute(f"SELECT count(*) FROM {reader}", [str(path)]).fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows, "total_rows": sum(rows.values()),
            "bytes": sum(p.stat().st_size for p in extract_files(Path(args.data)))}


def _nightly(args, sampler: RssSampler) -> dict:
    from caseflags.config import load_config
    from caseflags.runbook import run_without_prefect
    from caseflags.store.database import connect

    config = load_config(None)
    db_path = Path(args.store)
    with stage_labels(sampler):
        started = time.perf_counter()
        con = connect(db_path)
        try:
            record = run_without_prefect(con, Path(args.data), date.fromisoformat(args.as_at), Path(args.reports),
                                         config, db_path=db_path)
        finally:
            con.close()
        seconds = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for extract in record["extracts"].values():
        statuses[extract["status"]] = statuses.get(extract["status"], 0) + 1
    return {
        "seconds": seconds,
        "stage_seconds": record["stage_seconds"],
        "extract_statuses": statuses,
        "exceptions": sum((c["exceptions"] or 0) for c in record["checks"].values()),
        "not_evaluated": sorted(k for k, c in record["checks"].items() if c["status"] != "EVALUATED"),
        "linkage": {k: v for k, v in record["linkage"].items() if isinstance(v, (int, float, str))},
    }


def worker_nightly(args, sampler: RssSampler) -> dict:
    result = _nightly(args, sampler)
    if args.truth:
        result["agreement"] = agreement(Path(args.store), Path(args.data), args.as_at)
    return result


def agreement(store: Path, delivery: Path, as_at: str) -> list[dict]:
    """Per-check precision and recall of the run's exceptions against the generator's truth."""
    import duckdb

    from caseflags.checking.registry import load_registry
    from caseflags.sample_data.compare_truth import compare, read_truth, run_exceptions

    con = duckdb.connect(str(store), read_only=True)
    try:
        found = run_exceptions(con, as_at)
    finally:
        con.close()
    rows = []
    for a in compare(read_truth(delivery), found, sorted(load_registry())):
        rows.append({"check_id": a.check_id, "truth": a.truth, "found": a.found, "matched": a.matched,
                     "precision": a.precision, "recall": a.recall,
                     "missed": [list(k) for k in a.missed], "unexpected": [list(k) for k in a.unexpected]})
    return rows


def worker_checks4(args, sampler: RssSampler) -> dict:
    from gx_only import FOUR_CHECKS  # bench/ is the script folder, first on sys.path
    from caseflags.config import load_config
    from caseflags.checking.runner import run_all_checks
    from caseflags.store.database import connect

    config = load_config(None)
    run_id = "bench-four-checks"
    con = connect(Path(args.store))
    try:
        started = time.perf_counter()
        outcomes = run_all_checks(con, run_id, date.fromisoformat(args.as_at), thresholds_by_check=config.checks,
                                  check_ids=list(FOUR_CHECKS))
        seconds = time.perf_counter() - started
        rows = con.execute(
            "SELECT check_id, coalesce(person_id, ''), agency, entity_id FROM exceptions WHERE run_id = ?", [run_id]
        ).fetchall()
        con.execute("DELETE FROM exceptions WHERE run_id = ?", [run_id])
        con.execute("DELETE FROM check_runs WHERE run_id = ?", [run_id])
    finally:
        con.close()
    by_check: dict[str, list] = {c: [] for c in FOUR_CHECKS}
    for check_id, *key in rows:
        by_check[check_id].append(key)
    return {"seconds": seconds, "per_check_seconds": {o.check_id: o.duration_s for o in outcomes},
            "statuses": {o.check_id: o.status for o in outcomes}, "rows": by_check}


def worker_gx_only(args, sampler: RssSampler) -> dict:
    import duckdb

    import gx_only
    from caseflags.config import load_config

    thresholds = gx_only.default_thresholds(load_config(None).checks)
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (import time is part of what a GX-only run pays)
    imported = time.perf_counter() - started
    con = duckdb.connect(args.store, read_only=True)
    try:
        result = gx_only.run(con, date.fromisoformat(args.as_at), thresholds)
    finally:
        con.close()
    return {"seconds": result.seconds["total"], "phase_seconds": result.seconds, "gx_import_seconds": imported,
            "frame_rows": result.frame_rows, "rows": {c: sorted(list(k) for k in v) for c, v in result.rows.items()}}


def worker_prefect(args, sampler: RssSampler) -> dict:
    started = time.perf_counter()
    from caseflags.flows import nightly as nightly_flow

    imported = time.perf_counter()
    with stage_labels(sampler):
        run_dir = nightly_flow.nightly(extracts=args.data, as_at=date.fromisoformat(args.as_at), db=args.store,
                                       out=args.reports)
    finished = time.perf_counter()
    record = json.loads((Path(run_dir) / "run.json").read_text())
    return {"seconds": finished - imported, "import_seconds": imported - started,
            "stage_seconds": record["stage_seconds"]}


WORKERS = {
    "floor": worker_floor,
    "nightly": worker_nightly,
    "rerun": lambda args, sampler: _nightly(args, sampler),
    "checks4": worker_checks4,
    "gx_only": worker_gx_only,
    "prefect": worker_prefect,
}


def worker_main(args) -> None:
    load_start = os.getloadavg()
    with RssSampler() as sampler:
        worker = WORKERS[args.worker]
        result = worker(args, sampler) if args.worker != "floor" else worker(args)
    result.update({
        "variant": args.worker,
        "peak_rss_mib": peak_rss_mib(),
        "stage_peak_rss_mib": sampler.peaks_mib(),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    })
    Path(args.result).write_text(json.dumps(result))


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

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    prefect_version = subprocess.run([sys.executable, "-c", "import prefect; print(prefect.__version__)"],
                                     capture_output=True, text=True).stdout.strip()
    return {
        "cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(), "duckdb": duckdb.__version__, "polars": polars.__version__,
        "pandas": pandas.__version__, "great_expectations": great_expectations.__version__,
        "prefect": prefect_version, "kernel": platform.release(),
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
            "median_process_seconds": median([r["process_seconds"] for r in results]),
            "max_peak_rss_mib": max(r["peak_rss_mib"] for r in results),
        }
        if "stage_seconds" in results[0]:
            entry["median_stage_seconds"] = {s: median([r["stage_seconds"].get(s, 0.0) for r in results]) for s in STAGES}
            entry["max_stage_peak_rss_mib"] = {
                s: max(r["stage_peak_rss_mib"].get(s, 0.0) for r in results) for s in STAGES
            }
        if "phase_seconds" in results[0]:
            entry["median_phase_seconds"] = {p: median([r["phase_seconds"][p] for r in results])
                                             for p in results[0]["phase_seconds"]}
        if "per_check_seconds" in results[0]:
            entry["median_per_check_seconds"] = {c: median([r["per_check_seconds"][c] for r in results])
                                                 for c in results[0]["per_check_seconds"]}
        summary[variant] = entry
    return summary


def compare_rows(checks4: dict, gx: dict) -> dict:
    """Exception keys per check from the SQL checks and from GX; equal sets expected."""
    comparison = {}
    for check_id, rows in checks4["rows"].items():
        sql_keys = {tuple(r) for r in rows}
        gx_keys = {tuple(r) for r in gx["rows"].get(check_id, [])}
        comparison[check_id] = {"checks": len(sql_keys), "gx_only": len(gx_keys), "equal": sql_keys == gx_keys,
                                "only_checks": sorted(sql_keys - gx_keys)[:20], "only_gx": sorted(gx_keys - sql_keys)[:20]}
    return comparison


def ratios(summary: dict) -> dict:
    out = {}
    floor = summary.get("floor", {}).get("median_seconds")
    nightly = summary.get("nightly", {}).get("median_seconds")
    if floor and nightly:
        out["nightly_over_floor"] = round(nightly / floor, 2)
    if "checks4" in summary and "gx_only" in summary:
        out["gx_only_over_checks4"] = round(summary["gx_only"]["median_seconds"] / summary["checks4"]["median_seconds"], 1)
        out["gx_validate_only_over_checks4"] = round(
            summary["gx_only"]["median_phase_seconds"]["validate"] / summary["checks4"]["median_seconds"], 1)
    if "rerun" in summary and nightly:
        out["rerun_saves_seconds"] = round(nightly - summary["rerun"]["median_seconds"], 2)
        out["rerun_over_nightly"] = round(summary["rerun"]["median_seconds"] / nightly, 3)
    if "prefect" in summary and nightly:
        out["prefect_flow_minus_nightly_seconds"] = round(summary["prefect"]["median_seconds"] - nightly, 2)
    return out


def targets(summary: dict, ratio: dict) -> dict:
    peak = max(summary[v]["max_peak_rss_mib"] for v in ("nightly", "rerun") if v in summary)
    checks = {
        "nightly_at_most_60_s": (summary["nightly"]["median_seconds"], summary["nightly"]["median_seconds"] <= TARGETS["nightly_max_s"]),
        "nightly_at_most_3x_floor": (ratio.get("nightly_over_floor"), (ratio.get("nightly_over_floor") or 1e9) <= TARGETS["nightly_max_floor_ratio"]),
        "peak_rss_at_most_4_gib": (peak, peak <= TARGETS["peak_rss_max_mib"]),
        "rerun_at_most_10_s": (summary.get("rerun", {}).get("median_seconds"),
                               (summary.get("rerun", {}).get("median_seconds") or 1e9) <= TARGETS["rerun_max_s"]),
    }
    if "gx_only_over_checks4" in ratio:
        checks["checks_at_least_20x_faster_than_gx"] = (ratio["gx_only_over_checks4"],
                                                         ratio["gx_only_over_checks4"] >= TARGETS["checks_min_speedup_vs_gx"])
    return {name: {"value": value, "met": met} for name, (value, met) in checks.items()}


def markdown(results: dict) -> str:
    s, m = results["summary"], results["machine"]
    lines = [
        f"Profile `{results['profile']}` seed {results['seed']}, as at {results['as_at']}: "
        f"{s['floor']['runs'] if 'floor' in s else 0} repeats, medians. "
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"DuckDB {m['duckdb']}, polars {m['polars']}, pandas {m['pandas']}, GX {m['great_expectations']}, "
        f"Prefect {m['prefect']}.",
        "",
        "| variant | median wall s | runs (s) | peak RSS MiB | load avg (1 min) start→end |",
        "|---|---:|---|---:|---|",
    ]
    for variant, entry in s.items():
        loads = ", ".join(f"{r['loadavg_start'][0]:.1f}→{r['loadavg_end'][0]:.1f}" for r in results["runs"] if r["variant"] == variant)
        lines.append(f"| {variant} | {entry['median_seconds']:.2f} | {', '.join(f'{x:.1f}' for x in entry['seconds'])} | "
                     f"{entry['max_peak_rss_mib']:.0f} | {loads} |")
    for variant in ("nightly", "rerun", "prefect"):
        if variant in s and "median_stage_seconds" in s[variant]:
            lines += ["", f"{variant}: | " + " | ".join(STAGES) + " |", "|---|" + "---:|" * len(STAGES),
                      "| median s | " + " | ".join(f"{s[variant]['median_stage_seconds'][x]:.2f}" for x in STAGES) + " |",
                      "| peak RSS MiB | " + " | ".join(f"{s[variant]['max_stage_peak_rss_mib'][x]:.0f}" for x in STAGES) + " |"]
    lines += ["", "Ratios: " + ", ".join(f"{k} = {v}" for k, v in results["ratios"].items())]
    lines += ["", "| target | value | met |", "|---|---:|---|"]
    lines += [f"| {k} | {v['value']} | {'yes' if v['met'] else 'NO'} |" for k, v in results["targets"].items()]
    if results.get("rows_equal") is not None:
        lines += ["", "GX-only rows equal to the checks' rows: " + ("yes" if results["rows_equal"] else "NO") + " — "
                  + ", ".join(f"{c} {v['checks']}/{v['gx_only']}" for c, v in results["row_comparison"].items())]
    if results.get("agreement"):
        from caseflags.sample_data.compare_truth import CheckAgreement, markdown_table

        lines += ["", "Agreement with ground truth:", "",
                  markdown_table([CheckAgreement(a["check_id"], a["truth"], a["found"], a["matched"],
                                                 tuple(map(tuple, a["missed"])), tuple(map(tuple, a["unexpected"])))
                                  for a in results["agreement"]])]
    return "\n".join(lines) + "\n"


def session(args) -> int:
    as_at = date.fromisoformat(args.as_at)
    delivery = ensure_data(args.profile, args.seed, as_at, Path(args.data_dir))
    out = Path(args.out).resolve() / args.profile
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    common = {"data": str(delivery), "as_at": as_at.isoformat()}
    runs: list[dict] = []
    row_comparison = None
    rows_equal = None
    agreement_rows = None
    started = time.perf_counter()
    for repeat in range(args.repeats):
        store = work / f"store-{repeat}.duckdb"
        reports = work / f"reports-{repeat}"

        def measure(variant: str, **options) -> dict:
            result = run_worker(variant, work / f"{variant}-{repeat}.json", env, **common, **options)
            result["repeat"] = repeat
            runs.append(result)
            print(f"[{args.profile} #{repeat}] {variant}: {result['seconds']:.2f} s, peak {result['peak_rss_mib']:.0f} MiB"
                  f" (load {result['loadavg_start'][0]:.1f})", flush=True)
            return result

        measure("floor")
        nightly = measure("nightly", store=store, reports=reports, truth=1 if repeat == 0 else None)
        if repeat == 0:
            agreement_rows = nightly.pop("agreement", None)
        measure("rerun", store=store, reports=reports)
        if not args.skip_gx:
            checks4 = measure("checks4", store=store)
            gx = measure("gx_only", store=store)
            comparison = compare_rows(checks4, gx)
            equal = all(c["equal"] for c in comparison.values())
            rows_equal = equal if rows_equal is None else rows_equal and equal
            row_comparison = comparison
            checks4.pop("rows")
            gx.pop("rows")
        if repeat < args.prefect_repeats:
            measure("prefect", store=work / f"prefect-{repeat}.duckdb", reports=work / f"prefect-reports-{repeat}")
        if repeat < args.repeats - 1:  # keep the last store for inspection; the others are large
            for path in work.glob(f"store-{repeat}.*"):
                path.unlink()
            for path in work.glob(f"prefect-{repeat}.*"):
                path.unlink()

    summary = summarise(runs)
    ratio = ratios(summary)
    results = {
        "profile": args.profile, "seed": args.seed, "as_at": as_at.isoformat(), "repeats": args.repeats,
        "session_seconds": round(time.perf_counter() - started, 1), "machine": machine(),
        "targets_apply": args.profile == "large", "summary": summary, "ratios": ratio,
        "targets": targets(summary, ratio), "rows_equal": rows_equal, "row_comparison": row_comparison,
        "agreement": agreement_rows, "runs": runs,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(markdown(results))
    print(markdown(results))
    if rows_equal is False:
        print("GX-only rows differ from the checks' rows", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="large", choices=("small", "la", "large"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-at", default=DEFAULT_AS_AT.isoformat())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prefect-repeats", type=int, default=1)
    parser.add_argument("--skip-gx", action="store_true", help="leave out the checks4 / gx_only comparison")
    parser.add_argument("--out", default=str(BENCH_DIR / "out"))
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="cache of generated deliveries")
    # worker mode (internal)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--result")
    parser.add_argument("--data")
    parser.add_argument("--store")
    parser.add_argument("--reports")
    parser.add_argument("--truth")
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0
    return session(args)


if __name__ == "__main__":
    sys.exit(main())
