"""`caseflags region run` prints no Prefect error noise (issue 27): the temporary Prefect server
it starts (flows/region.py, `prefect_api`) stops only after the logs and events of the flow were
delivered. Before, a flow whose last logs were still queued ended the run with
"--- Error logging to API --- All connection attempts failed" on standard error.

One process, one temporary server, one tiny flow that logs as the region flow does at its end;
the full region runs assert the same on their output (tests/test_region.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(600)]

PROBE = textwrap.dedent(
    """
    from prefect import flow
    from prefect.logging import get_run_logger

    from caseflags.flows.region import prefect_api

    @flow(name="noise-probe", persist_result=False)
    def probe():
        for i in range(50):  # still queued for the API when the flow returns
            get_run_logger().warning("probe %d", i)

    with prefect_api():
        probe()
    print("probe done")
    """
)


def test_the_temporary_server_stops_after_the_logs_are_sent(tmp_path):
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_LOGGING_LEVEL="WARNING")
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=500)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "probe done" in result.stdout, output[-3000:]
    assert "Error logging to API" not in output and "All connection attempts failed" not in output, output[-3000:]
