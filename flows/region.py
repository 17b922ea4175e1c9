"""The `region` Prefect flow: every authority's `nightly` as its own subflow, fanned out on Dask.

Each authority's run is a task (`authority-nightly`) that calls the `nightly` flow, so it shows in
Prefect as a subflow with its own stage tasks, and runs exactly as a stand-alone night would. The
tasks run on Dask through `prefect-dask`'s DaskTaskRunner: a `dask.distributed` LocalCluster of
the manifest's `workers` (one process each) by default, or the running scheduler at the
manifest's `scheduler` address. Dask schedules; nothing here does. A failed authority does not
stop the others: its failure is reported (one line) and the regional stage runs on the rest.

Task parameters are LA codes, paths and dates only: nothing personal reaches Prefect.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from caseflags.environment import quiet_environment

# The same quiet, offline settings as flows/nightly.py, before Prefect is imported.
quiet_environment()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect_dask import DaskTaskRunner  # noqa: E402

from caseflags.flows.nightly import nightly  # noqa: E402
from caseflags.region.manifest import Manifest, load_manifest  # noqa: E402
from caseflags.region.runbook import failure_reason, regional_stage  # noqa: E402
from caseflags.region.store import AuthorityOutcome  # noqa: E402

TASK_OPTIONS = dict(cache_policy=NO_CACHE, persist_result=False, log_prints=False)


def mute_console_logs() -> None:
    """In a Dask worker process: no console output from Prefect's loggers (a failed authority's
    traceback, run notices). The CLI reports each authority in one line; the logs still go to
    Prefect's API. (The CLI mutes its own process the same way.)"""
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.CRITICAL + 1)


@task(name="authority-nightly", **TASK_OPTIONS)
def authority_nightly(
    la_code: str,
    extracts: str | None,
    db: str,
    out: str,
    config_path: str | None,
    as_at: date,
    new_store: bool = False,
    quiet_console: bool = False,
    source: str | None = None,
) -> dict:
    """One authority's night, as the `nightly` subflow, on whichever Dask worker runs it."""
    if quiet_console:
        mute_console_logs()
    started = time.perf_counter()
    run_dir = nightly(
        extracts=extracts, as_at=as_at, db=db, out=out, config_path=config_path, new_store=new_store, source=source
    )
    return {
        "run_dir": str(run_dir),
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


@flow(name="region", log_prints=False, persist_result=False, validate_parameters=True)
def region(manifest_path: str, as_at: date, new_store: bool = False, quiet_console: bool = False) -> dict:
    """Every authority's nightly on Dask, then the regional stage. Returns the regional record."""
    manifest = load_manifest(manifest_path)
    futures = {
        a.la_code: authority_nightly.submit(
            a.la_code,
            str(a.extracts) if a.extracts else None,
            str(a.store),
            str(a.out),
            str(a.config) if a.config else None,
            as_at,
            new_store,
            quiet_console,
            a.source,
        )
        for a in manifest.authorities
    }
    outcomes = []
    for la_code, future in futures.items():
        future.wait()
        state = future.state
        if state.is_completed():
            result = future.result()
            outcomes.append(
                AuthorityOutcome(
                    la_code, "COMPLETED", None, result["run_dir"], result["seconds"], result["peak_rss_mb"]
                )
            )
        else:
            problem = future.result(raise_on_failure=False)
            reason = failure_reason(problem) if isinstance(problem, BaseException) else f"run ended {state.type.value}"
            outcomes.append(AuthorityOutcome(la_code, "FAILED", reason))
    return regional_stage(manifest, as_at, outcomes, new_store=new_store)


def task_runner_for(manifest: Manifest) -> DaskTaskRunner:
    """The manifest's Dask scheduler, or a local cluster of `workers` single-threaded processes."""
    if manifest.scheduler:
        return DaskTaskRunner(address=manifest.scheduler)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": manifest.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


@contextmanager
def prefect_api() -> Iterator[None]:
    """Dask worker processes report to the same Prefect API as the flow.

    With PREFECT_API_URL set (a Prefect server) nothing is needed. Otherwise one temporary
    Prefect server is started here, as Prefect's own ephemeral mode would, and its URL exported
    so that the workers, which are separate processes, use it rather than starting their own.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            try:
                yield
            finally:
                _send_pending_logs_and_events()
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def _send_pending_logs_and_events(timeout: float = 30.0) -> None:
    """Deliver what Prefect still holds for the temporary server (flow and task logs, events)
    while it is up. Otherwise its log worker sends them at exit to a server that has stopped,
    and prints "--- Error logging to API --- All connection attempts failed"."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def run_region(manifest_path: str | Path, as_at: date, new_store: bool = False, quiet_console: bool = False) -> dict:
    """Validate the manifest, then run the `region` flow on its Dask task runner. `new_store`
    lets the run create the regional store and authorities' stores that do not exist yet;
    `quiet_console`: the workers print nothing of Prefect's (the CLI without --debug)."""
    manifest = load_manifest(manifest_path)
    with prefect_api():
        return region.with_options(task_runner=task_runner_for(manifest))(
            manifest_path=str(manifest.path), as_at=as_at, new_store=new_store, quiet_console=quiet_console
        )
