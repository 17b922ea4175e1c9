"""The `nightly` Prefect flow: the runbook's stages (`caseflags.runbook.STAGES`), one task each.

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
from caseflags import runbook
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

# One Prefect task per stage of the runbook, in the runbook's order.
TASKS = {
    stage.name: task(name=stage.name, retries=stage.retries, retry_delay_seconds=5, **TASK_OPTIONS)(runbook.timed_step)
    for stage in runbook.STAGES
}


def run_as_task(stage: runbook.Stage, con, state: runbook.RunState, config: Config) -> None:
    TASKS[stage.name](stage, con, state, config)


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
            state = runbook.new_run(con, as_at, Path(extracts), Path(out), db_path)
            runbook.run_stages(con, state, config, call=run_as_task)
            return str(state.run_dir)
        finally:
            con.close()
