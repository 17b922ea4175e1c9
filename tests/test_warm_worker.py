"""The warm worker of `caseflags serve` (flows/warm.py): nights forked from a template process that
loaded the libraries once, run by Prefect's own runner, with the same results as a direct run."""

from __future__ import annotations

import subprocess
import sys
import types

import duckdb
import pytest
from test_prefect import AS_AT, free_port, prefect_env, wait_for

from caseflags.flows import warm
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.sample_data.compare_truth import run_exceptions


def _report_origin(queue) -> None:
    """In a child of the template: what it had loaded before doing anything, and who forked it."""
    import os

    queue.put(
        {
            "ppid": os.getppid(),
            "loaded": sorted(
                m
                for m in ("great_expectations", "splink", "polars", "prefect.flow_engine", "caseflags.flows.nightly")
                if m in sys.modules
            ),
            "origin": warm.warm_origin(),
        }
    )


# Forks a template that imports Prefect, GX and splink: the full suite, not the fast tier.
@pytest.mark.prefect
def test_a_night_process_starts_from_the_template_with_the_libraries_loaded():
    context, _ = warm.start_template()
    queue = context.Queue()
    child = context.Process(target=_report_origin, args=(queue,))
    child.start()
    report = queue.get(timeout=300)
    child.join(60)
    assert child.exitcode == 0
    assert report["loaded"] == [
        "caseflags.flows.nightly",
        "great_expectations",
        "polars",
        "prefect.flow_engine",
        "splink",
    ]
    origin = report["origin"]
    assert origin is not None and report["ppid"] == origin["template_pid"]  # forked by the template, not by us
    assert warm.warm_origin() is None  # this process never imports the template


def test_install_refuses_a_prefect_that_does_not_start_runs_through_multiprocessing():
    engine = types.ModuleType("fake_engine")
    engine.run_flow_in_subprocess = lambda *a, **k: None
    engine.multiprocessing = object()
    with pytest.raises(warm.WarmWorkerUnavailable, match="cannot be installed"):
        warm.install(None, engine)


def test_install_routes_the_spawn_context_to_the_warm_one():
    import multiprocessing

    engine = types.ModuleType("fake_engine")
    engine.run_flow_in_subprocess = lambda *a, **k: None
    engine.multiprocessing = multiprocessing
    marker = object()
    warm.install(marker, engine)
    assert engine.multiprocessing.get_context("spawn") is marker
    assert engine.multiprocessing.Queue is multiprocessing.Queue


@pytest.mark.prefect
def test_a_served_night_runs_in_the_warm_worker_with_the_direct_runs_exceptions(tmp_path, sample_run):
    home = tmp_path / "prefect-home"
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=prefect_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served = None
    store = tmp_path / "served.duckdb"
    try:
        wait_for(f"{api_url}/health", 600)  # a shared machine can be slow to start the server
        served = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caseflags",
                "serve",
                "--extracts",
                str(SAMPLE_DELIVERY),
                "--db",
                str(store),
                "--new-store",
                "--out",
                str(tmp_path / "reports"),
            ],
            env=prefect_env(home, api_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        trigger = subprocess.run(
            [sys.executable, "-c", TRIGGER_AND_READ_LOGS, AS_AT],
            env=prefect_env(home, api_url),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert trigger.returncode == 0, trigger.stdout[-2000:] + trigger.stderr[-3000:]
        lines = trigger.stdout.strip().splitlines()
        assert lines[-1] == "COMPLETED"
        assert any("started in the warm worker" in line for line in lines), lines
    finally:
        for process in (served, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    assert "warm worker ready" in served.stdout.read()
    direct_store = sample_run[0]
    exceptions = []
    for path in (store, direct_store):
        con = duckdb.connect(str(path), read_only=True)
        try:
            exceptions.append(run_exceptions(con, AS_AT))
        finally:
            con.close()
    assert exceptions[0] and exceptions[0] == exceptions[1]


TRIGGER_AND_READ_LOGS = r"""
import asyncio, sys, time
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.deployments import run_deployment

async def main(as_at):
    async with get_client() as client:
        deadline = time.monotonic() + 300
        while True:
            try:
                await client.read_deployment_by_name("nightly/nightly")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
    flow_run = await run_deployment("nightly/nightly", parameters={"as_at": as_at}, timeout=800, poll_interval=2)
    async with get_client() as client:
        await asyncio.sleep(3)  # the run's last logs reach the server after its final state
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
    for log in logs:
        print("log", log.message)
    print(flow_run.state.type.value)

asyncio.run(main(sys.argv[1]))
"""
