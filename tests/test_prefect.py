"""The `nightly` flow under Prefect: a real server on loopback with the deployment served and
triggered through the API, and a scan of Prefect's database and logs for personal data."""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from caseflags import SAMPLE_DELIVERY

pytestmark = pytest.mark.prefect

AS_AT = "2026-11-24"


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_RUNNER_POLL_FREQUENCY="2",
    )
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def personal_values(delivery: Path) -> set[str]:
    """NHS numbers, UPNs, names and dates of birth present in the delivery."""
    values: set[str] = set()
    columns = {
        "ssd_person.csv": ["pers_upn", "pers_single_unique_id", "pers_forename", "pers_surname", "pers_dob"],
        "agency_records.csv": ["nhs_number", "upn", "forename", "surname", "dob"],
    }
    for name, wanted in columns.items():
        with (delivery / name).open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                for column in wanted:
                    value = (row.get(column) or "").strip()
                    if column.endswith("dob") or column == "pers_dob":
                        if value and value != AS_AT:  # the as-at date is a run parameter by design
                            values.add(value)
                    elif column.endswith("name"):
                        if len(value) >= 4:  # shorter names collide with ordinary words
                            values.add(value)
                    elif value:
                        values.add(value.replace(" ", ""))
    return values


def scan_for(values: set[str], texts: dict[str, str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for value in values:
            if re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text):
                found.append(f"{where}: {value[:2]}…")
    return found


def test_prefect_database_and_logs_hold_no_personal_data(tmp_path):
    home = tmp_path / "prefect-home"
    result = subprocess.run(
        [sys.executable, "-m", "caseflags", "run", "--db", str(tmp_path / "store.duckdb"),
         "--out", str(tmp_path / "reports"), "--as-at", AS_AT],
        env=prefect_env(home), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "reports" / AS_AT / "run.json").is_file()
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    database_files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in database_files), "Prefect's database was not where expected"
    for path in database_files:
        texts[str(path.relative_to(home))] = path.read_bytes().decode("latin-1")
    values = personal_values(SAMPLE_DELIVERY)
    assert len(values) > 100
    assert scan_for(values, texts) == []


def test_nightly_deployment_served_and_triggered_through_the_api(tmp_path):
    home = tmp_path / "prefect-home"
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=prefect_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    served = None
    try:
        wait_for(f"{api_url}/health", 120)
        served = subprocess.Popen(
            [sys.executable, "-m", "caseflags", "serve", "--extracts", str(SAMPLE_DELIVERY),
             "--db", str(tmp_path / "store.duckdb"), "--out", str(tmp_path / "reports")],
            env=prefect_env(home, api_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        trigger = subprocess.run(
            [sys.executable, "-c", TRIGGER_AND_WAIT, AS_AT],
            env=prefect_env(home, api_url), capture_output=True, text=True, timeout=600,
        )
        assert trigger.returncode == 0, trigger.stdout[-2000:] + trigger.stderr[-3000:]
        assert trigger.stdout.strip().splitlines()[-1] == "COMPLETED"
        assert (tmp_path / "reports" / AS_AT / "run.json").is_file()
        assert (tmp_path / "reports" / AS_AT / "exceptions.csv").is_file()
    finally:
        for process in (served, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


TRIGGER_AND_WAIT = r'''
import asyncio, sys, time
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

async def main(as_at):
    async with get_client() as client:
        deadline = time.monotonic() + 180
        while True:
            try:
                deployment = await client.read_deployment_by_name("nightly/nightly")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        schedules = [s.schedule.cron for s in deployment.schedules]
        print("schedules", schedules)
    flow_run = await run_deployment("nightly/nightly", parameters={"as_at": as_at}, timeout=480, poll_interval=2)
    print(flow_run.state.type.value)

asyncio.run(main(sys.argv[1]))
'''
