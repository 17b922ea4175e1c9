"""The ingest stage alone on a generated delivery: `stage_delivery` into an in-memory store, one
fresh process per run (or a fresh store file: --store-file), this tree and (with --before) another
source tree interleaved.

    python bench/bench_ingest_stage.py --profile la --repeats 3 --before /tmp/main-tree

Each run reports wall and CPU seconds of the stage, the process's RSS after imports and its peak
RSS (ru_maxrss); the summary gives medians. The `before` tree is imported through PYTHONPATH
(a `git archive` of the commit to compare with).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ONE_RUN = """
import json, resource, sys, time
from pathlib import Path
import duckdb
from caseflags.settings import load_config
from caseflags.ingest.stage import stage_delivery
from caseflags.store.database import ensure_store
con = duckdb.connect(sys.argv[2] if len(sys.argv) > 2 else ":memory:")
ensure_store(con)
config = load_config()
after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
wall, cpu = time.perf_counter(), time.process_time()
delivery = stage_delivery(con, Path(sys.argv[1]), config)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
loaded = sum(o.rows_loaded or 0 for o in delivery.outcomes.values())
print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_after_imports_mib": round(after_imports),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "rows_loaded": loaded, "refused": len(delivery.refused_files)}))
"""


def one_run(delivery: Path, tree: Path | None, store: Path | None = None) -> dict:
    env = dict(os.environ)
    if store is not None and store.exists():
        store.unlink()
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    out = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(delivery), *([str(store)] if store else [])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd="/tmp" if tree is not None else None,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_avg"] = round(os.getloadavg()[0], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="la")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another source tree to compare with, interleaved")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument(
        "--store-file", type=Path, help="a store file (removed before each run) instead of an in-memory store"
    )
    args = parser.parse_args()
    from deliveries import ensure_data

    delivery = ensure_data(args.profile, 1, date(2026, 11, 24), args.data)
    size = sum(p.stat().st_size for p in delivery.glob("*.csv"))
    variants = {"this tree": None} if args.before is None else {"before": args.before, "this tree": None}
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(args.repeats):
        for name, tree in variants.items():
            runs[name].append(one_run(delivery, tree, args.store_file))
            print(name, runs[name][-1], flush=True)
    print(f"\n{args.profile}: {size / 1e6:.0f} MB of CSV")
    print("| code | median wall s | median CPU s | median peak RSS MiB | peak / input | runs (wall s) | load avg |")
    print("|---|---|---|---|---|---|---|")
    for name, results in runs.items():
        peak = median(r["peak_rss_mib"] for r in results)
        print(
            f"| {name} | {median(r['wall_s'] for r in results):.2f} | {median(r['cpu_s'] for r in results):.2f} | "
            f"{peak:.0f} | {peak * 2**20 / size:.2f} | {', '.join(str(r['wall_s']) for r in results)} | "
            f"{', '.join(str(r['load_avg']) for r in results)} |"
        )


if __name__ == "__main__":
    main()
