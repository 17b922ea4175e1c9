"""The typical night (issue 28: row-level change detection, incremental linkage, outputs
rewritten only where they changed), before and after, side by side.

    .venv/bin/python bench/bench_incremental.py [--profile la] [--repeats 3] [--before /tmp/before-pkg]

`--before` (and `--after`) is a folder holding an importable copy of an earlier `caseflags` package (with
catalogue/, flows/, sql/ and sample_data/ inside it, as installed): that code runs the "before"
variant, this worktree the "after". Each variant first runs the first night into its own store
(once), then per repeat, interleaved so both see the same machine load, a fresh copy of that store
runs the next night (bench/deliveries.py) in a fresh process. Reported: medians of the link and
outputs stages and of the whole night. After the repeats, the "after" variant also runs the next
night from scratch (a fresh store sharing the first night's linkage model) and compares its
person_links, link_candidates and exceptions with the typical night's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from deliveries import ensure_data, ensure_next_night

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_AS_AT = date(2026, 11, 24)
STAGES = ("ingest", "contracts", "carry", "link", "checks", "outputs")


def child(args) -> None:
    """One night in this process: prints its stage seconds (and, asked, what it linked) as JSON."""
    from caseflags.runbook import run_without_prefect
    from caseflags.settings import load_config
    from caseflags.store.database import connect

    store = Path(args.store)
    con = connect(store)
    started = time.perf_counter()
    record = run_without_prefect(
        con, Path(args.data), date.fromisoformat(args.as_at), Path(args.reports), load_config(), db_path=store
    )
    result = {
        "seconds": round(time.perf_counter() - started, 3),
        "stages": record["stage_seconds"],
        "linkage_model": record["linkage"].get("model"),
        "row_changes": "row_changes" in record,
    }
    if args.keys:
        result["keys"] = {
            "person_links": con.execute("SELECT * FROM person_links ORDER BY ALL").fetchall(),
            "link_candidates": con.execute(
                "SELECT agency, agency_record_id, person_id, match_probability, kind FROM link_candidates ORDER BY ALL"
            ).fetchall(),
            "exceptions": con.execute(
                "SELECT check_id, person_id, agency, entity_id, detail FROM exceptions WHERE run_id = ? ORDER BY ALL",
                [args.as_at],
            ).fetchall(),
        }
    con.close()
    print(json.dumps(result, default=str))


def night(variant: dict, data: Path, as_at: date, store: Path, reports: Path, keys: bool = False) -> dict:
    env = dict(os.environ)
    if variant["pythonpath"]:
        env["PYTHONPATH"] = variant["pythonpath"]
    command = [
        sys.executable,
        __file__,
        "--child",
        "--data",
        str(data),
        "--as-at",
        as_at.isoformat(),
        "--store",
        str(store),
        "--reports",
        str(reports),
    ] + (["--keys"] if keys else [])
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def copy_store(source: Path, target: Path) -> None:
    for suffix in ("", ".linkage-model.json"):
        src = source.with_suffix(suffix) if suffix else source
        dst = target.with_suffix(suffix) if suffix else target
        if src.exists():
            shutil.copy(src, dst)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--data"), parser.add_argument("--as-at"), parser.add_argument("--store")
    parser.add_argument("--reports"), parser.add_argument("--keys", action="store_true")
    parser.add_argument("--profile", default="la")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default=None)
    parser.add_argument("--after", default=None, help="like --before, for the 'after' code (default: this worktree)")
    parser.add_argument("--out", default=str(BENCH_DIR / "out" / "incremental"))
    args = parser.parse_args()
    if args.child:
        return child(args)
    first = ensure_data(args.profile, args.seed, DEFAULT_AS_AT, BENCH_DIR / "data")
    next_at = DEFAULT_AS_AT + timedelta(days=1)
    nxt = ensure_next_night(first, args.seed, next_at)
    work = Path(args.out) / args.profile
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    variants = [{"name": "before", "pythonpath": args.before}] if args.before else []
    variants.append({"name": "after", "pythonpath": args.after})
    for variant in variants:
        base = work / f"{variant['name']}-first.duckdb"
        variant["first"] = night(variant, first, DEFAULT_AS_AT, base, work / f"{variant['name']}-first-reports")
        variant["base"], variant["nights"] = base, []
    for repeat in range(args.repeats):
        for variant in variants:
            store = work / f"{variant['name']}-typical-{repeat}.duckdb"
            copy_store(variant["base"], store)
            reports = work / f"{variant['name']}-typical-reports-{repeat}"
            shutil.copytree(work / f"{variant['name']}-first-reports", reports)
            variant["nights"].append(night(variant, nxt, next_at, store, reports, keys=repeat == 0))
    summary = {"profile": args.profile, "repeats": args.repeats, "variants": {}}
    for variant in variants:
        nights = variant["nights"]
        summary["variants"][variant["name"]] = {
            "first_night_seconds": variant["first"]["seconds"],
            "typical_seconds_median": statistics.median(n["seconds"] for n in nights),
            **{f"{stage}_median": statistics.median(n["stages"].get(stage, 0) for n in nights) for stage in STAGES},
            "linkage_model": nights[0]["linkage_model"],
        }
    after = next(v for v in variants if v["name"] == "after")
    scratch_store = work / "after-scratch.duckdb"
    shutil.copy(after["base"].with_suffix(".linkage-model.json"), scratch_store.with_suffix(".linkage-model.json"))
    scratch = night(after, nxt, next_at, scratch_store, work / "after-scratch-reports", keys=True)
    typical_keys = after["nights"][0]["keys"]
    summary["typical_equals_scratch"] = {name: typical_keys[name] == scratch["keys"][name] for name in typical_keys}
    (work / "results.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    if not all(summary["typical_equals_scratch"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
