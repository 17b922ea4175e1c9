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

from caseflags.sample_data import SAMPLE_DELIVERY

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


# Prefect's own catalogue of block types, shipped with it and written at start-up (it contains,
# e.g., an API version date that can equal a synthetic child's birth date): not run data.
PREFECT_STATIC_TABLES = {"block_type", "block_schema", "block_schema_reference", "alembic_version", "configuration"}


def database_texts(database: Path) -> dict[str, str]:
    """Every row of every table of Prefect's database (WAL included), as text per table."""
    import sqlite3

    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        texts = {}
        for table in tables:
            if table in PREFECT_STATIC_TABLES:
                continue
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            texts[f"{database.name}:{table}"] = "\n".join(
                " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row) for row in rows
            )
        return texts
    finally:
        con.close()


TOKEN = re.compile(r"[0-9A-Za-z]+")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}")


def scan_for(values: set[str], texts: dict[str, str]) -> list[str]:
    """Which values appear in which text, as whole tokens (set look-ups: the texts are large)."""
    found = []
    for where, text in texts.items():
        tokens = set(TOKEN.findall(text)) | set(DATE.findall(text))
        for value in values:
            if value in tokens or (not TOKEN.fullmatch(value) and not DATE.fullmatch(value) and value in text):
                found.append(f"{where}: {value[:2]}…")
    return found


def test_scan_finds_a_planted_value():
    values = {"9434765919", "Zoë-Ann", "2015-03-04", "Morgan"}
    texts = {"db": "x 9434765919 y", "log": "born 2015-03-04", "other": "Zoë-Ann Morganite"}
    assert sorted(scan_for(values, texts)) == ["db: 94…", "log: 20…", "other: Zo…"]


def test_prefect_database_and_logs_hold_no_personal_data(tmp_path):
    home = tmp_path / "prefect-home"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "caseflags",
            "run",
            "--extracts",
            str(SAMPLE_DELIVERY),
            "--db",
            str(tmp_path / "store.duckdb"),
            "--new-store",
            "--out",
            str(tmp_path / "reports"),
            "--as-at",
            AS_AT,
        ],
        env=prefect_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "reports" / AS_AT / "run.json").is_file()
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    databases = list(home.rglob("*.db"))
    assert databases, "Prefect's database was not where expected"
    for database in databases:
        texts.update(database_texts(database))
    for path in home.rglob("*.log"):
        texts[str(path.relative_to(home))] = path.read_text(errors="replace")
    assert any("flow_run" in where for where in texts) and any("log" == where.split(":")[-1] for where in texts)
    values = personal_values(SAMPLE_DELIVERY)
    assert len(values) > 100
    assert scan_for(values, texts) == []


def test_nightly_deployment_served_and_triggered_through_the_api(tmp_path):
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
    try:
        wait_for(f"{api_url}/health", 120)
        served = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caseflags",
                "serve",
                "--extracts",
                str(SAMPLE_DELIVERY),
                "--db",
                str(tmp_path / "store.duckdb"),
                "--new-store",
                "--out",
                str(tmp_path / "reports"),
            ],
            env=prefect_env(home, api_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        trigger = subprocess.run(
            [sys.executable, "-c", TRIGGER_AND_WAIT, AS_AT],
            env=prefect_env(home, api_url),
            capture_output=True,
            text=True,
            timeout=600,
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


TRIGGER_AND_WAIT = r"""
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
"""
