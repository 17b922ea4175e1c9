"""`caseflags serve` for the benchmark: the 12-child delivery run as a served night (issue 28.6).

One `caseflags serve` process against the session's Prefect server, started once (its warm worker
loads the libraries then, as at a site), and each repeat a run of its `nightly` deployment
triggered through the API with its own fresh store and reports folder (parameters of the run).
Measured: the flow run's own time as Prefect records it (start to end of the run: what the goal
"≤ 3 s of flow time under serve" is about) and, for information, the trigger's wall time to the
final state (which adds the runner's polling interval, here 1 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

TRIGGER = r"""
import asyncio, json, sys, time
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

async def main(parameters):
    async with get_client() as client:
        deadline = time.monotonic() + 600
        while True:
            try:
                await client.read_deployment_by_name("nightly/nightly")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    started = time.perf_counter()
    flow_run = await run_deployment("nightly/nightly", parameters=parameters, timeout=1800, poll_interval=0.5)
    wall = time.perf_counter() - started
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run.id)
    flow_seconds = (flow_run.end_time - flow_run.start_time).total_seconds() if flow_run.end_time else None
    print("RESULT " + json.dumps({"state": flow_run.state.type.value, "flow_seconds": flow_seconds,
                                  "total_run_time": flow_run.total_run_time.total_seconds(), "wall": wall}))

asyncio.run(main(json.loads(sys.argv[1])))
"""


class ServedNightly:
    """`caseflags serve --extracts <delivery>` on the bench's server, for the whole session."""

    def __init__(self, env: dict, delivery: Path, work: Path, startup_seconds: float = 900.0):
        self.env = {**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
        self.delivery, self.work, self.startup_seconds = delivery, work, startup_seconds
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []
        self.ready_in: float | None = None

    def __enter__(self) -> ServedNightly:
        self.work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caseflags",
                "serve",
                "--extracts",
                str(self.delivery),
                "--db",
                str(self.work / "served-base.duckdb"),
                "--new-store",
                "--out",
                str(self.work / "served-reports"),
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line)
                if "warm worker ready" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(self.startup_seconds) or self.process.poll() is not None:
            self.__exit__()
            raise RuntimeError("caseflags serve did not start: " + "".join(self.output)[-2000:])
        self.ready_in = time.perf_counter() - started
        return self

    def run(
        self, variant: str, as_at: date, store: Path, reports: Path, delivery: Path | None = None, new_store=True
    ) -> dict:
        """One served night: by default the serve's own delivery into a new store; `delivery` and
        `new_store=False` run another delivery on a store an earlier night left (a night after)."""
        parameters = {"as_at": as_at.isoformat(), "db": str(store), "out": str(reports), "new_store": new_store}
        if delivery is not None:
            parameters["extracts"] = str(delivery)
        load = os.getloadavg()
        completed = subprocess.run(
            [sys.executable, "-c", TRIGGER, json.dumps(parameters)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        line = next((x for x in completed.stdout.splitlines() if x.startswith("RESULT ")), None)
        if completed.returncode != 0 or line is None:
            sys.stderr.write(completed.stderr[-4000:] + "".join(self.output)[-2000:])
            raise RuntimeError(f"{variant}: the served run could not be triggered")
        result = json.loads(line[7:])
        if result["state"] != "COMPLETED":
            raise RuntimeError(f"{variant}: the served night ended {result['state']}")
        record = json.loads((reports / as_at.isoformat() / "run.json").read_text())
        return {
            "variant": variant,
            "seconds": result["flow_seconds"],
            "process_seconds": result["wall"],
            "stage_seconds": record.get("stage_seconds") or {},
            "loadavg_start": [round(x, 2) for x in load],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        import signal

        os.killpg(self.process.pid, signal.SIGTERM)  # serve, its warm worker and a night in progress
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
