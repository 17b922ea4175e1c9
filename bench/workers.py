"""What one measured bench process does (`bench/run.py --worker <variant>`): each variant runs in
a fresh Python process, so its peak RSS is its own `ru_maxrss`; a sampling thread also gives the
peak per stage."""

from __future__ import annotations

import json
import os
import resource
import shutil
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from deliveries import extract_files


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

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peaks_mib(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in self.peaks.items()}


@contextmanager
def stage_labels(sampler: RssSampler):
    """Label RSS samples with the pipeline stage running (wraps `runbook.timed`)."""
    from caseflags import runbook

    original = runbook.timed

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

    runbook.timed = labelled
    try:
        yield
    finally:
        runbook.timed = original


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def worker_floor(args, sampler: RssSampler) -> dict:
    """The raw scan: DuckDB reads every extract file once (all_varchar) and counts its rows."""
    import duckdb

    con = duckdb.connect()
    rows = {}
    started = time.perf_counter()
    for path in extract_files(Path(args.data)):
        reader = (
            "read_parquet(?)" if path.suffix.lower() == ".parquet" else "read_csv(?, header = true, all_varchar = true)"
        )
        rows[path.name] = con.execute(f"SELECT count(*) FROM {reader}", [str(path)]).fetchone()[0]
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "bytes": sum(p.stat().st_size for p in extract_files(Path(args.data))),
    }


def _summary(record: dict) -> dict:
    """What the bench keeps of run.json (keys it does not know are left alone)."""
    statuses: dict[str, int] = {}
    for extract in record["extracts"].values():
        statuses[extract["status"]] = statuses.get(extract["status"], 0) + 1
    return {
        "stage_seconds": record.get("stage_seconds") or {},
        "extract_statuses": statuses,
        "exceptions": sum((c["exceptions"] or 0) for c in record["checks"].values()),
        "not_evaluated": sorted(k for k, c in record["checks"].items() if c["status"] != "EVALUATED"),
        "linkage": {k: v for k, v in (record.get("linkage") or {}).items() if isinstance(v, (int, float, str))},
        "reused_results": record.get("reused_results") is not None,
    }


def worker_nightly(args, sampler: RssSampler) -> dict:
    """`run_without_prefect` on the store (first night: a fresh store; rerun / typical night: the
    store the earlier variants left). With --model, the linkage model file is copied beside the
    store first (a from-scratch run sharing the first night's model)."""
    from caseflags.runbook import run_without_prefect
    from caseflags.sample_data.compare_truth import run_exceptions
    from caseflags.settings import load_config
    from caseflags.store.database import connect

    config = load_config(None)
    db_path = Path(args.store)
    if args.model:
        shutil.copy(args.model, db_path.with_suffix(".linkage-model.json"))
    with stage_labels(sampler):
        started = time.perf_counter()
        con = connect(db_path)
        try:
            record = run_without_prefect(
                con, Path(args.data), date.fromisoformat(args.as_at), Path(args.reports), config, db_path=db_path
            )
            seconds = time.perf_counter() - started
            keys = sorted(run_exceptions(con, args.as_at)) if args.keys else None
            links = (
                con.execute(
                    "SELECT agency, agency_record_id, person_id, method FROM person_links ORDER BY ALL"
                ).fetchall()
                if args.keys
                else None
            )
        finally:
            con.close()
    result = {"seconds": seconds, **_summary(record)}
    if keys is not None:
        result["exception_keys"] = [list(k) for k in keys]
        result["link_keys"] = [list(k) for k in links]
    if args.truth:
        result["agreement"] = agreement(db_path, Path(args.data), args.as_at)
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
        rows.append(
            {
                "check_id": a.check_id,
                "truth": a.truth,
                "found": a.found,
                "matched": a.matched,
                "precision": a.precision,
                "recall": a.recall,
                "missed": [list(k) for k in a.missed],
                "unexpected": [list(k) for k in a.unexpected],
            }
        )
    return rows


def worker_checks4(args, sampler: RssSampler) -> dict:
    from gx_only import FOUR_CHECKS  # bench/ is the script folder, first on sys.path

    from caseflags.checking.runner import run_all_checks
    from caseflags.settings import load_config
    from caseflags.store.database import connect

    config = load_config(None)
    run_id = "bench-four-checks"
    con = connect(Path(args.store))
    try:
        started = time.perf_counter()
        outcomes = run_all_checks(
            con, run_id, date.fromisoformat(args.as_at), thresholds_by_check=config.checks, check_ids=list(FOUR_CHECKS)
        )
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
    return {
        "seconds": seconds,
        "per_check_seconds": {o.check_id: o.duration_s for o in outcomes},
        "statuses": {o.check_id: o.status for o in outcomes},
        "rows": by_check,
    }


def worker_gx_only(args, sampler: RssSampler) -> dict:
    import duckdb
    import gx_only

    from caseflags.settings import load_config

    thresholds = gx_only.default_thresholds(load_config(None).checks)
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (import time is part of what a GX-only run pays)

    imported = time.perf_counter() - started
    con = duckdb.connect(args.store, read_only=True)
    try:
        result = gx_only.run(con, date.fromisoformat(args.as_at), thresholds)
    finally:
        con.close()
    return {
        "seconds": result.seconds["total"],
        "phase_seconds": result.seconds,
        "gx_import_seconds": imported,
        "frame_rows": result.frame_rows,
        "rows": {c: sorted(list(k) for k in v) for c, v in result.rows.items()},
    }


def worker_prefect(args, sampler: RssSampler) -> dict:
    """The `nightly` flow on a fresh store, against the server in PREFECT_API_URL (the bench's
    long-lived server) or, without it, Prefect's ephemeral one."""
    started = time.perf_counter()
    from caseflags.flows import nightly as nightly_flow

    imported = time.perf_counter()
    with stage_labels(sampler):
        run_dir = nightly_flow.nightly(
            extracts=args.data, as_at=date.fromisoformat(args.as_at), db=args.store, out=args.reports, new_store=True
        )
    finished = time.perf_counter()
    record = json.loads((Path(run_dir) / "run.json").read_text())
    return {
        "seconds": finished - imported,
        "import_seconds": imported - started,
        **_summary(record),
        "server": os.environ.get("PREFECT_API_URL") or "ephemeral",
    }


WORKERS = {
    "floor": worker_floor,
    "floor_next": worker_floor,
    "nightly": worker_nightly,
    "rerun": worker_nightly,
    "typical": worker_nightly,
    "scratch_next": worker_nightly,
    "twelve_direct": worker_nightly,
    "checks4": worker_checks4,
    "gx_only": worker_gx_only,
    "prefect": worker_prefect,
}


def worker_main(args) -> None:
    load_start = os.getloadavg()
    with RssSampler() as sampler:
        result = WORKERS[args.worker](args, sampler)
    result.update(
        {
            "variant": args.worker,
            "peak_rss_mib": peak_rss_mib(),
            "stage_peak_rss_mib": sampler.peaks_mib(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    Path(args.result).write_text(json.dumps(result))
