"""A region on a local Dask cluster against the same authorities one after another.

    .venv/bin/python bench/bench_region.py --authorities 4 --profile la --workers 2 [--out bench/data/region-la]

Generates the region once (`caseflags generate --region`, seed 1, as at 2026-11-24; kept in
--out), then for each mode starts from empty stores and outputs and runs `caseflags region run`'s
flow in a fresh Python process:

- **cluster**: the manifest's local cluster of --workers single-threaded worker processes;
- **one after another**: the same flow and code on a cluster of ONE worker, so the authorities
  run one after another (the same per-authority work, no parallelism).

Reported per mode: wall time of the whole region (authorities + regional stage), the
authorities' phase and the regional stage separately, each authority's own time, and memory:
the peak of the summed RSS of the process tree (flow process, Prefect server, Dask scheduler
and workers), sampled every 0.2 s with psutil, and each worker's own peak (ru_maxrss). The
1-minute load average at start and end is recorded: the machine is shared. Results go to
<out>/bench-region.json; the figures go into bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

AS_AT = "2026-11-24"


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def against_truth(out: Path, region_dir: Path) -> dict:
    """Cross-border exceptions found against the generator's regional truth (both sides)."""
    import csv

    def keys(path: Path, only_cross_border: bool) -> set[tuple]:
        with open(path, newline="", encoding="utf-8") as handle:
            return {
                (r["check_id"], r["la_code"], r["agency"], r["entity_id"])
                for r in csv.DictReader(handle)
                if not only_cross_border or r["check_id"].startswith("CROSS_BORDER_")
            }

    truth = keys(out / "ground_truth" / "truth.csv", False)
    found = keys(region_dir / "exceptions.csv", True)
    return {
        "truth": len(truth),
        "found": len(found),
        "matched": len(truth & found),
        "missed": sorted(truth - found)[:10],
        "unexpected": sorted(found - truth)[:10],
    }


def run_mode(out: Path, workers: int) -> dict:
    """One region run from empty stores, in a child process whose tree is sampled."""
    for name in ("stores", "reports", "region-out"):
        shutil.rmtree(out / name, ignore_errors=True)
    manifest = out / f"bench-{workers}.toml"
    manifest.write_text((out / "region.toml").read_text().replace("workers = 2", f"workers = {workers}"))
    env = dict(
        os.environ,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_HOME=str(out / ".prefect"),
    )
    env.pop("PREFECT_API_URL", None)
    code = (
        "import json, sys; from datetime import date; from caseflags.flows.region import run_region; "
        f"r = run_region(sys.argv[1], date.fromisoformat('{AS_AT}'), new_store=True); print('RESULT ' + json.dumps(r, default=str))"
    )
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(manifest)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        process = psutil.Process(child.pid)
        while not stop.is_set():
            peak = max(peak, tree_rss(process))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"region run with {workers} worker(s) failed (exit {child.returncode})")
    record = json.loads(next(line for line in stdout.splitlines() if line.startswith("RESULT "))[7:])
    regional = record["seconds"]
    return {
        "workers": workers,
        "wall_s": round(wall, 1),
        "authorities_phase_s": round(wall - regional, 1),
        "regional_stage_s": regional,
        "regional_stages": record["stage_seconds"],
        "authority_s": {code: a["seconds"] for code, a in record["authorities"].items()},
        "worker_peak_rss_mb": {code: a["peak_rss_mb"] for code, a in record["authorities"].items()},
        "tree_peak_rss_mb": round(peak / 2**20),
        "statuses": {code: a["status"] for code, a in record["authorities"].items()},
        "cross_border": {check: c["exceptions"] for check, c in record["checks"].items()},
        "against_truth": against_truth(out, Path(record["run_dir"])),
        "load_avg_start_end": [round(load_start, 1), round(os.getloadavg()[0], 1)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authorities", type=int, default=4)
    parser.add_argument("--profile", default="la")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = (args.out or Path(__file__).resolve().parent / "data" / f"region-{args.authorities}-{args.profile}").resolve()
    if not (out / "region.toml").exists():
        from caseflags.sample_data.region import generate_region

        started = time.perf_counter()
        generate_region(args.authorities, args.profile, args.seed, out)
        print(f"generated {args.authorities} {args.profile} authorities in {time.perf_counter() - started:.0f} s")
    results = {"authorities": args.authorities, "profile": args.profile, "cpus": os.cpu_count(), "modes": []}
    for workers in (args.workers, 1):
        result = run_mode(out, workers)
        results["modes"].append(result)
        print(json.dumps(result))
    cluster, serial = results["modes"]
    results["speed_up_whole"] = round(serial["wall_s"] / cluster["wall_s"], 2)
    results["speed_up_authorities"] = round(serial["authorities_phase_s"] / cluster["authorities_phase_s"], 2)
    (out / "bench-region.json").write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"speed-up: whole region {results['speed_up_whole']}x, authorities' phase {results['speed_up_authorities']}x; "
        f"peak RSS {cluster['tree_peak_rss_mb']} MiB on {args.workers} workers vs {serial['tree_peak_rss_mb']} MiB on 1"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
