"""Nightly operations: the run lock across processes, crash safety at every stage boundary and
in the middle of a load, backfill over archived deliveries."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from caseflags.runbook import FAULT_ENV, archived_deliveries
from caseflags.sample_data import SAMPLE_DELIVERY

AS_AT = "2026-11-24"
pytestmark = pytest.mark.e2e  # whole runs in other processes: killed, locked, backfilled
CASEFLAGS = [sys.executable, "-m", "caseflags"]

RUN_DIRECT = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path
    from caseflags.settings import load_config
    from caseflags.runbook import run_without_prefect
    from caseflags.store.database import connect
    db, extracts, out, as_at = sys.argv[1:5]
    con = connect(db)
    run_without_prefect(con, Path(extracts), date.fromisoformat(as_at), Path(out), load_config(), db_path=Path(db))
    con.close()
    """
)

FAULT_POINTS = [
    "before:ingest",
    "mid:ingest",
    "before:contracts",
    "mid:publish",
    "before:link",
    "before:checks",
    "before:outputs",
    "before:finish",
]


def run_direct(db: Path, extracts: Path, out: Path, as_at: str = AS_AT, fault: str | None = None) -> int:
    env = dict(os.environ)
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    result = subprocess.run(
        [sys.executable, "-c", RUN_DIRECT, str(db), str(extracts), str(out), as_at],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if fault is None and result.returncode != 0:
        raise AssertionError(result.stderr[-3000:])
    return result.returncode


def store_snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every contract and result table's rows, order-independent."""
    from caseflags.contracts.schema import load_contract

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = list(load_contract()) + ["person_links", "person_identifiers", "identifier_issues"]
        snapshot = {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}
        snapshot["exceptions"] = con.execute(
            "SELECT exception_id, check_id, severity, person_id, agency, entity_type, entity_id, detail, locator "
            "FROM exceptions WHERE run_id = ? ORDER BY ALL",
            [AS_AT],
        ).fetchall()
        snapshot["check_runs"] = con.execute(
            "SELECT check_id, status, reason, exception_count FROM check_runs WHERE run_id = ? ORDER BY ALL", [AS_AT]
        ).fetchall()
        snapshot["quarantine"] = con.execute(
            "SELECT table_name, file, line, column_name, reason FROM quarantine WHERE run_id = ? ORDER BY ALL", [AS_AT]
        ).fetchall()
        return snapshot
    finally:
        con.close()


@pytest.fixture(scope="module")
def uninterrupted(sample_run) -> dict:
    db, _, _ = sample_run
    return store_snapshot(db)


@pytest.mark.parametrize("fault", FAULT_POINTS)
def test_killed_run_leaves_store_consistent_and_rerun_equals_uninterrupted(tmp_path, fault, uninterrupted):
    db = tmp_path / "store.duckdb"
    code = run_direct(db, SAMPLE_DELIVERY, tmp_path / "reports", fault=fault)
    assert code == -signal.SIGKILL, f"the run was not killed at {fault}"
    con = duckdb.connect(str(db), read_only=True)
    try:
        # Consistent: every contract table is either untouched (empty) or completely loaded.
        for table, rows in uninterrupted.items():
            if table in (
                "exceptions",
                "check_runs",
                "quarantine",
                "person_links",
                "person_identifiers",
                "identifier_issues",
            ):
                continue
            live = con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
            assert live in ([], rows), f"{table} partially loaded after a kill at {fault}"
        status = con.execute("SELECT status FROM runs WHERE run_id = ?", [AS_AT]).fetchone()
        assert status == ("RUNNING",)  # the record shows the run never finished
    finally:
        con.close()
    run_direct(db, SAMPLE_DELIVERY, tmp_path / "reports")
    assert store_snapshot(db) == uninterrupted
    assert (tmp_path / "reports" / AS_AT / "run.json").is_file()


def test_second_run_against_a_locked_store_exits_non_zero_and_changes_nothing(tmp_path):
    db = tmp_path / "store.duckdb"
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
            import time
            from pathlib import Path
            from caseflags.store.locking import store_lock
            with store_lock(Path({str(db)!r})):
                Path({str(ready)!r}).touch()
                time.sleep(60)
            """
            ),
        ],
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert time.monotonic() < deadline, "lock holder did not start"
            assert holder.poll() is None, "lock holder died"
            time.sleep(0.1)
        result = subprocess.run(
            [
                *CASEFLAGS,
                "run",
                "--extracts",
                str(SAMPLE_DELIVERY),
                "--db",
                str(db),
                "--new-store",
                "--out",
                str(tmp_path / "reports"),
                "--as-at",
                AS_AT,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=30)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "locked by another run" in lines[0]
    assert not db.exists()
    assert not (tmp_path / "reports").exists()


def test_backfill_finds_dated_delivery_folders_in_order(tmp_path):
    for name in ["2026-11-03", "2026-11-01", "2026-11-02", "notes", "2026-12-01"]:
        (tmp_path / name).mkdir()
    (tmp_path / "2026-11-04").write_text("a file, not a delivery")
    found = archived_deliveries(tmp_path, date(2026, 11, 1), date(2026, 11, 30))
    assert [d.isoformat() for d, _ in found] == ["2026-11-01", "2026-11-02", "2026-11-03"]


def test_backfill_rebuilds_run_history(tmp_path):
    archive = tmp_path / "archive"
    for as_at in ["2026-11-20", "2026-11-21"]:
        shutil.copytree(SAMPLE_DELIVERY, archive / as_at)
    db = tmp_path / "store.duckdb"
    for as_at, folder in archived_deliveries(archive, date(2026, 11, 20), date(2026, 11, 21)):
        run_direct(db, folder, tmp_path / "reports", as_at=as_at.isoformat())
    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = con.execute("SELECT run_id, status FROM runs ORDER BY as_at").fetchall()
        loads = con.execute(
            "SELECT DISTINCT status FROM extract_loads WHERE run_id = '2026-11-21' AND file IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    assert runs == [("2026-11-20", "COMPLETED"), ("2026-11-21", "COMPLETED")]
    assert loads == [("UNCHANGED",)]  # identical deliveries: nothing reloaded the second night
    assert (tmp_path / "reports" / "2026-11-21" / "exceptions.csv").is_file()
    import json

    second = json.loads((tmp_path / "reports" / "2026-11-21" / "run.json").read_text())
    assert second["linkage"]["model"] == "unchanged inputs: previous links kept"
    assert second["data_contracts"] == {}  # nothing new to validate
    assert all(c["status"] == "EVALUATED" for c in second["checks"].values())  # still checked for the new date
