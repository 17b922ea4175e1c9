"""The `nightly` Prefect flow: the runbook's stages (`caseflags.runbook.STAGES`), one task each.

Tasks take the open store connection and the run state (paths, dates, counts): never extract
rows, names or identifiers, so nothing personal reaches Prefect's parameters, logs or results.
Results are not persisted and not cached.
"""

import logging
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from caseflags.environment import quiet_environment

# No telemetry or analytics, and a start-up timeout fit for a busy machine, before Prefect is
# imported (an operator's own settings still win).
quiet_environment()

from prefect import flow, get_run_logger, task  # noqa: E402  (after the settings above)
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.schedules import Cron  # noqa: E402

from caseflags import runbook  # noqa: E402
from caseflags.config import Config  # noqa: E402
from caseflags.flows.warm import warm_origin  # noqa: E402
from caseflags.settings import load_config  # noqa: E402
from caseflags.store.database import connect  # noqa: E402
from caseflags.store.locking import store_lock  # noqa: E402

# One INFO record per stage as it starts (the CLI shows it as a progress line in a terminal).
progress = logging.getLogger("caseflags.progress")


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def serve_nightly(
    extracts: str | None,
    db: str,
    out: str,
    config_path: str | None,
    cron: str,
    timezone: str,
    new_store: bool = False,
    source: str | None = None,
) -> None:
    """Register the `nightly` deployment on the Prefect server (PREFECT_API_URL) and run its schedule.

    Its flow runs start in the warm worker (flows/warm.py) once `start_warm_worker` has run, as
    `caseflags serve` does first. The cron expression and timezone come from a configuration validated at start
    (caseflags.config), so a bad schedule is refused before anything is registered."""
    nightly.serve(
        name="nightly",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={
            "extracts": extracts,
            "db": db,
            "out": out,
            "config_path": config_path,
            "new_store": new_store,
            "source": source,
        },
        description="caseflags nightly run: ingest, contracts, carry, link, checks, outputs.",
        print_starting_message=False,
    )


TASK_OPTIONS = dict(cache_policy=NO_CACHE, persist_result=False, log_prints=False)

# One Prefect task per stage of the runbook, in the runbook's order.
TASKS = {
    stage.name: task(name=stage.name, retries=stage.retries, retry_delay_seconds=5, **TASK_OPTIONS)(runbook.timed_step)
    for stage in runbook.STAGES
}


def run_as_task(stage: runbook.Stage, con, state: runbook.RunState, config: Config) -> None:
    progress.info(stage.name)
    TASKS[stage.name](stage, con, state, config)


@flow(name="nightly", log_prints=False, persist_result=False, validate_parameters=True)
def nightly(
    extracts: str | None = None,
    as_at: date | None = None,
    db: str = "caseflags.duckdb",
    out: str = "reports",
    config_path: str | None = None,
    new_store: bool = False,
    source: str | None = None,
    retrain_linkage: bool = False,
) -> str:
    """Ingest → contracts → carry → link → checks → outputs for one as-at date. Returns the run folder.

    Scheduled runs pass no as-at date: the run is as at today (Europe/London). A store that
    does not exist is created only with `new_store`; otherwise the run is refused naming it.
    `source` (a database URL without a password) is read beside the `extracts` folder.
    `retrain_linkage`: train the linkage model again tonight, whatever changed.
    """
    origin = warm_origin()
    if origin is not None:  # under `caseflags serve`: say so in the run's log (no data, a process id)
        get_run_logger().info(
            "started in the warm worker (libraries loaded once by process %s)", origin["template_pid"]
        )
    config = load_config(config_path)
    if retrain_linkage:
        config = replace(config, linkage={**config.linkage, "retrain": True})
    as_at = as_at or today_in(config.schedule["timezone"])
    db_path = Path(db)
    with store_lock(db_path):
        con = connect(db_path, create=new_store)
        try:
            state = runbook.new_run(con, as_at, Path(extracts) if extracts else None, Path(out), db_path, source=source)
            runbook.run_stages(con, state, config, call=run_as_task)
            return str(state.run_dir)
        finally:
            con.close()
