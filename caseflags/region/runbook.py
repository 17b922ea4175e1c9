"""The regional stage as plain functions: after the authorities' runs, share → link → check → report.

`flows/region.py` fans the authorities' nightly runs out on Dask and then calls
`regional_stage` once with how each went. Nothing here logs or records personal data: counts,
LA codes, paths and one-line reasons only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import date

from caseflags.checking.runner import run_all_checks
from caseflags.errors import RunAborted
from caseflags.region.linkage import link_region
from caseflags.region.manifest import Manifest
from caseflags.region.outputs import write_region_outputs
from caseflags.region.store import AuthorityOutcome, open_region_store, record_share
from caseflags.settings import load_config
from caseflags.store.database import StoreError
from caseflags.store.locking import StoreLocked, store_lock

log = logging.getLogger("caseflags")


def failure_reason(exc: BaseException) -> str:
    """One line, no data: the message of a foreseen refusal, otherwise only the error's type."""
    if isinstance(exc, (RunAborted, StoreLocked, StoreError)):
        return " ".join(str(exc).split())
    return f"run failed ({type(exc).__name__}); see the authority's run log"


def regional_stage(manifest: Manifest, as_at: date, outcomes: list[AuthorityOutcome], new_store: bool = False) -> dict:
    """Record each authority's share, link across borders, run the regional checks, write outputs."""
    config = load_config(manifest.config)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    with store_lock(manifest.store):
        con = open_region_store(manifest.store, create=new_store)
        try:
            mark = time.perf_counter()
            for outcome in outcomes:
                record_share(con, manifest.authority(outcome.la_code), outcome, as_at)
            stages["share"] = round(time.perf_counter() - mark, 3)
            mark = time.perf_counter()
            linkage = link_region(con, config.linkage["match_threshold"], config.linkage["review_threshold"])
            stages["link"] = round(time.perf_counter() - mark, 3)
            mark = time.perf_counter()
            run_id = as_at.isoformat()
            checks = run_all_checks(con, run_id, as_at, thresholds_by_check=config.checks, scope="region")
            stages["checks"] = round(time.perf_counter() - mark, 3)
            record = {
                "region": manifest.name,
                "run_id": run_id,
                "as_at": as_at.isoformat(),
                "authorities": {o.la_code: {k: v for k, v in asdict(o).items() if k != "la_code"} for o in outcomes},
                "linkage": asdict(linkage),
                "checks": {
                    c.check_id: {"status": c.status, "reason": c.reason, "exceptions": c.exception_count}
                    for c in checks
                },
                "stage_seconds": stages,
            }
            mark = time.perf_counter()
            run_dir = write_region_outputs(con, run_id, as_at, manifest.out, record)
            stages["outputs"] = round(time.perf_counter() - mark, 3)
        finally:
            con.close()
    record["run_dir"] = str(run_dir)
    record["seconds"] = round(time.perf_counter() - started, 3)
    failed = [o.la_code for o in outcomes if o.status != "COMPLETED"]
    log.info(
        "region %s: %d authorities, %d failed %s; cross-border exceptions %s",
        as_at,
        len(outcomes),
        len(failed),
        failed,
        {k: v["exceptions"] for k, v in record["checks"].items()},
    )
    return record
