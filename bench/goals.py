"""Issue 28's goals table for every profile `make bench` measured, side by side.

    .venv/bin/python bench/goals.py [--out bench/out] [la large]

Reads `<out>/<profile>/results.json` (written by bench/run.py) and prints one Markdown table: each
goal, its target, and per profile the median-based value with the medians it is made of. This is
the table quoted in bench/RESULTS.md; nothing here measures anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from run import GOALS  # noqa: E402  (bench/run.py, beside this file)

ROWS = (
    ("first_night_over_scan", "first night ÷ scan", "≤ 5×", ("nightly", "floor")),
    ("typical_night_over_scan", "typical night ÷ scan", "≤ 2×", ("typical", "floor_next")),
    ("rerun_over_scan", "unchanged rerun ÷ scan", "≤ 1×", ("rerun", "floor")),
    (
        "prefect_over_direct",
        "Prefect flow ÷ the same stages run directly, server running",
        "≤ 1.10×",
        ("prefect", "nightly"),
    ),
    ("peak_rss_over_input", "peak memory ÷ input bytes (first night; peak per stage)", "≤ 2×", None),
    (
        "twelve_children_served_s",
        "12-child delivery under `caseflags serve`, first night into a new store (flow time; warm worker)",
        "≤ 3 s",
        None,
    ),
    (
        "twelve_children_served_next_s",
        "12-child delivery's next night under `caseflags serve`, on that store (flow time; warm worker)",
        "≤ 3 s",
        None,
    ),
    (
        "twelve_children_direct_s",
        "12-child delivery, ad hoc: a fresh process running the stages directly; "
        "`caseflags run` with a server; without one",
        "for information",
        None,
    ),
    (
        "gx_only_over_checks4",
        "four design-card checks vs the GX-only build",
        "≥ 20× on `large`",
        ("gx_only", "checks4"),
    ),
)
STAGES = ("ingest", "contracts", "carry", "link", "checks", "outputs")


def cell(results: dict, key: str, parts: tuple[str, str] | None) -> str:
    value = results["ratios"].get(key)
    if value is None:
        return "not measured" + (
            " (the ad-hoc 12-child runs are in the `la` session)" if key.startswith("twelve") else ""
        )
    met = results["goals"].get(key, {}).get("met")
    if (key == "gx_only_over_checks4" and results["profile"] != "large") or key == "twelve_children_direct_s":
        met = None  # the GX goal is set on `large` only; the ad-hoc runs are for information
    summary = results["summary"]
    if parts is not None and all(p in summary for p in parts):
        a, b = (summary[p]["median_seconds"] for p in parts)
        detail = f" ({a:.2f} s / {b:.2f} s)"
    elif key == "peak_rss_over_input":
        detail = f" ({results['ratios']['peak_rss_mib']:.0f} MiB for {results['ratios']['input_mib']:.0f} MiB"
        stage_peaks = summary.get("nightly", {}).get("max_stage_peak_rss_mib") or {}
        if any(stage_peaks.values()):
            detail += "; " + ", ".join(f"{s} {stage_peaks.get(s, 0):.0f}" for s in STAGES)
        detail += ")"
    elif key in ("twelve_children_served_s", "twelve_children_served_next_s"):
        trigger = results["ratios"].get(key[:-2] + "_trigger_s")
        detail = f" (trigger to completion {trigger:.2f} s)" if trigger is not None else ""
    elif key == "twelve_children_direct_s":
        server = results["ratios"].get("twelve_children_cli_server_s")
        ephemeral = results["ratios"].get("twelve_children_cli_ephemeral_s")
        detail = (f"; `caseflags run` with the server {server:.2f} s" if server is not None else "") + (
            f"; without a server {ephemeral:.2f} s" if ephemeral is not None else ""
        )
    else:
        detail = ""
    unit = " s" if key.endswith("_s") else "×"
    verdict = "for information" if met is None else ("**met**" if met else "missed")
    return f"{verdict}: {value}{unit}{detail}"


def table(profiles: dict[str, dict]) -> str:
    names = list(profiles)
    lines = ["| figure | goal | " + " | ".join(f"`{p}`" for p in names) + " |", "|---|---|" + "---|" * len(names)]
    for key, label, goal, parts in ROWS:
        assert key in GOALS, key
        lines.append(f"| {label} | {goal} | " + " | ".join(cell(profiles[p], key, parts) for p in names) + " |")
    lines.append("")
    for name, results in profiles.items():
        runs = {v: e["runs"] for v, e in results["summary"].items()}
        lines.append(
            f"`{name}`: {results['repeats']} repeats (runs per variant: "
            + ", ".join(f"{v} {n}" for v, n in runs.items())
            + f"); load average at start {results['loadavg_start']}, at end {results['loadavg_end']}; "
            f"session {results['session_seconds']} s."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profiles", nargs="*", default=["la", "large"])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = parser.parse_args(argv)
    found = {
        p: json.loads((args.out / p / "results.json").read_text())
        for p in args.profiles
        if (args.out / p / "results.json").exists()
    }
    if not found:
        print(
            f"no results.json under {args.out} for {', '.join(args.profiles)}: run bench/run.py first", file=sys.stderr
        )
        return 2
    print(table(found), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
