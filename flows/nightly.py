"""The `nightly` Prefect flow: the runbook, one task per stage; the logic is in `pipeline.py`.

Tasks take the open store connection and the run state (paths, dates, counts): never extract
rows, names or identifiers, so nothing personal reaches Prefect's parameters, logs or results.
Results are not persisted and not cached.
"""

import os
from datetime import date
from pathlib import Path

# A nightly run on a busy machine must not fail because Prefect's ephemeral server took longer
# than its default 20 s to start; an operator's own setting still wins.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, task  # noqa: E402  (after the setting above)
from prefect.cache_policies import NO_CACHE

from caseflags.config import Config, load_config
from caseflags import runbook as pipeline
from caseflags.store.locking import store_lock
from caseflags.store.database import connect


def today_in(timezone: str) -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).date()


def serve_nightly(extracts: str, db: str, out: str, config_path: str | None, cron: str, timezone: str) -> None:
    """Register the `nightly` deployment on the Prefect server (PREFECT_API_URL) and run its schedule."""
    from prefect.schedules import Cron

    nightly.serve(
        name="nightly",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"extracts": extracts, "db": db, "out": out, "config_path": config_path},
        description="caseflags nightly run: ingest, contracts, link, checks, outputs.",
        print_starting_message=False,
    )


TASK_OPTIONS = dict(cache_policy=NO_CACHE, persist_result=False, log_prints=False)


@task(name="ingest", retries=2, retry_delay_seconds=5, **TASK_OPTIONS)
def ingest(con, state: pipeline.RunState, config: Config) -> pipeline.StagedDelivery:
    with pipeline.timed(state, "ingest"):
        return pipeline.stage_delivery(con, state, config)


@task(name="contracts", **TASK_OPTIONS)
def contracts(con, state: pipeline.RunState, config: Config, staged: pipeline.StagedDelivery) -> None:
    with pipeline.timed(state, "contracts"):
        pipeline.check_contracts(con, state, config)
        pipeline.publish(con, state, staged)


@task(name="link", **TASK_OPTIONS)
def link(con, state: pipeline.RunState, config: Config, db_path: Path | None) -> None:
    with pipeline.timed(state, "link"):
        pipeline.link(con, state, config, db_path)


@task(name="checks", **TASK_OPTIONS)
def checks(con, state: pipeline.RunState, config: Config) -> None:
    with pipeline.timed(state, "checks"):
        pipeline.run_checks(con, state, config)


@task(name="outputs", retries=2, retry_delay_seconds=5, **TASK_OPTIONS)
def outputs(con, state: pipeline.RunState, config: Config) -> str:
    with pipeline.timed(state, "outputs"):
        run_dir = pipeline.write_outputs(con, state, config)
    pipeline.finish_run(con, state, run_dir)
    return str(run_dir)


@flow(name="nightly", log_prints=False, persist_result=False, validate_parameters=True)
def nightly(
    extracts: str,
    as_at: date | None = None,
    db: str = "caseflags.duckdb",
    out: str = "reports",
    config_path: str | None = None,
) -> str:
    """Ingest → contracts → link → checks → outputs for one as-at date. Returns the run folder.

    Scheduled runs pass no as-at date: the run is as at today (Europe/London).
    """
    config = load_config(config_path)
    as_at = as_at or today_in(config.schedule["timezone"])
    db_path = Path(db)
    with store_lock(db_path):
        con = connect(db_path)
        try:
            state = pipeline.new_run(con, as_at, Path(extracts), Path(out))
            staged = ingest(con, state, config)
            contracts(con, state, config, staged)
            link(con, state, config, db_path)
            checks(con, state, config)
            return outputs(con, state, config)
        finally:
            con.close()
