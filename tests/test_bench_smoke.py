"""Smoke test of the benchmark (`bench/run.py`) on the `small` profile: it completes and writes
its results. No timing is asserted; Prefect is not started (--prefect-repeats 0, --fixed-repeats 0, --served-repeats 0)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


@pytest.mark.e2e
def test_bench_runs_on_small_profile(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1"}
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--profile",
            "small",
            "--repeats",
            "1",
            "--prefect-repeats",
            "0",
            "--fixed-repeats",
            "0",
            "--served-repeats",
            "0",
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    results = json.loads((out / "small" / "results.json").read_text())
    assert set(results["summary"]) == {
        "floor",
        "floor_next",
        "nightly",
        "rerun",
        "typical",
        "scratch_next",
        "checks4",
        "gx_only",
    }
    nightly = results["summary"]["nightly"]
    assert set(nightly["median_stage_seconds"]) == {"ingest", "contracts", "carry", "link", "checks", "outputs"}
    assert all(run["peak_rss_mib"] > 0 for run in results["runs"])
    # The rerun found every extract unchanged; the floor read every extract file.
    rerun = next(run for run in results["runs"] if run["variant"] == "rerun")
    assert set(rerun["extract_statuses"]) <= {"UNCHANGED", "NOT_DELIVERED"}
    # ... and kept the first night's checks and files, which the first night computed
    first = next(run for run in results["runs"] if run["variant"] == "nightly")
    assert rerun["reused_results"] is True and first["reused_results"] is False
    floor = next(run for run in results["runs"] if run["variant"] == "floor")
    assert len(floor["rows"]) == len(list((tmp_path / "data" / "small-seed1").glob("*.csv")))
    # The typical night loaded the changed extracts and found what a from-scratch run found.
    typical = next(run for run in results["runs"] if run["variant"] == "typical")
    assert typical["extract_statuses"].get("LOADED", 0) >= 20
    assert results["typical_equals_scratch"]["equal"] is True
    assert set(results["goals"]) >= {
        "first_night_over_scan",
        "typical_night_over_scan",
        "rerun_over_scan",
        "peak_rss_over_input",
        "gx_only_over_checks4",
    }
    # The GX-only baseline listed exactly the exceptions of the four SQL checks, and some.
    assert results["rows_equal"] is True
    assert sum(c["checks"] for c in results["row_comparison"].values()) > 0
    assert {a["check_id"] for a in results["agreement"]} >= {"CIN_EHCP_FLAG_MISSING", "SCHOOL_ATTENDANCE_LOW"}
    assert (out / "small" / "results.md").read_text().startswith("Profile `small`")
    # The goals table of every profile measured (bench/goals.py, what bench/RESULTS.md quotes)
    goals = subprocess.run(
        [sys.executable, str(BENCH.with_name("goals.py")), "--out", str(out), "small"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert goals.returncode == 0, goals.stderr
    assert "| first night ÷ scan | ≤ 5× | " in goals.stdout and "`small`: 1 repeats" in goals.stdout


def test_twelve_child_delivery_holds_only_those_children(tmp_path):
    """The fixed-cost delivery of the bench: every row about 12 children and nothing else."""
    import csv
    from datetime import date

    sys.path.insert(0, str(BENCH.parent))
    try:
        from deliveries import cut_children
    finally:
        sys.path.remove(str(BENCH.parent))
    from caseflags.sample_data import SAMPLE_DELIVERY

    out = tmp_path / "twelve"
    counts = cut_children(SAMPLE_DELIVERY, out, date(2026, 11, 24), 12)

    def rows(name):
        with (out / name).open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    people = {r["pers_person_id"] for r in rows("ssd_person.csv")}
    assert len(people) == 12 and counts["ssd_person.csv"] == 12
    for name in ("meetings.csv", "voice_records.csv", "family_contacts.csv"):
        assert {r["person_id"] for r in rows(name)} <= people
    assert {r["cinv_person_id"] for r in rows("ssd_cin_visits.csv")} <= people
    meetings = {r["meeting_id"] for r in rows("meetings.csv")}
    assert {r["meeting_id"] for r in rows("meeting_invitations.csv")} <= meetings
    with (SAMPLE_DELIVERY / "ground_truth" / "truth_links.csv").open(newline="", encoding="utf-8") as handle:
        owner = {(r["agency"], r["agency_record_id"]): r["person_id"] for r in csv.DictReader(handle)}
    records = rows("agency_records.csv")
    assert records and {owner[(r["agency"], r["agency_record_id"])] for r in records} <= people
    assert counts["attendance_sessions.csv"] > 0
