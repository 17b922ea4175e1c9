"""Process-wide settings made once at start, in code: private files and a quiet, offline run.

`prepare_process()` is called at the CLI entry point, before any file, library or thread exists:

- umask 0077, so every file this process or a library creates (DuckDB's store, WAL and temp
  files, Prefect's database and local storage under PREFECT_HOME, reports) is owner-only;
- no telemetry, analytics or update checks (Prefect, Great Expectations): the nightly run needs
  no network. An operator's own environment setting still wins (setdefault).

`QUIET_ENVIRONMENT` is also applied when `caseflags.flows` is imported without the CLI.
"""

from __future__ import annotations

import os

OWNER_ONLY_UMASK = 0o077

QUIET_ENVIRONMENT = {
    "DO_NOT_TRACK": "1",  # Prefect's client-side analytics
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the (temporary) server's telemetry heartbeat
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "False",  # Great Expectations usage statistics
    # A nightly run on a busy machine must not fail because Prefect's temporary server took longer
    # than its default 20 s to start.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def quiet_environment() -> None:
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def prepare_process() -> None:
    """Owner-only files and a quiet, offline environment for the whole process."""
    os.umask(OWNER_ONLY_UMASK)
    quiet_environment()
