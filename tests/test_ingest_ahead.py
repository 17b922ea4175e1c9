"""The delivery's largest CSV is staged by the engine in a thread, on its own connection to the
store, while the other tables are read (caseflags/ingest/ahead.py; issue 28): the staged rows,
ledger and quarantine are exactly those of staging it in turn, and a night that stops, a file that
cannot be read, or DuckDB running out of memory are handled at that table's turn as before."""

from __future__ import annotations

import shutil
import threading

import duckdb
import pytest

import caseflags.ingest.ahead as ahead_module
import caseflags.ingest.stage as stage_module
from caseflags.errors import RunAborted
from caseflags.ingest.stage import stage_delivery
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.settings import load_config
from caseflags.store.database import ensure_store

LARGEST = "attendance_sessions"  # the sample's largest file


@pytest.fixture
def delivery(tmp_path):
    folder = tmp_path / "delivery"
    shutil.copytree(SAMPLE_DELIVERY, folder)
    return folder


def store() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_store(con)
    return con


def staged_tables(con) -> dict[str, list]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_staged\\_%' ESCAPE '\\' ORDER BY 1"
        ).fetchall()
    ]
    return {name: con.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall() for name in names}


def outcomes(delivery) -> dict:
    return {
        t: (o.status, o.rows_read, o.rows_loaded, o.rows_quarantined, o.ledger) for t, o in delivery.outcomes.items()
    }


def test_the_largest_file_is_staged_in_a_thread_exactly_as_in_turn(delivery, monkeypatch):
    threads_by_table = {}
    engine = ahead_module.stage_csv_in_engine

    def recording(con, path, table, *args):
        threads_by_table[table] = threading.current_thread().name
        return engine(con, path, table, *args)

    monkeypatch.setattr(ahead_module, "stage_csv_in_engine", recording)
    monkeypatch.setattr(stage_module, "stage_csv_in_engine", recording)
    alongside = store()
    threads_before = alongside.execute("SELECT current_setting('threads')").fetchone()[0]
    with_ahead = stage_delivery(alongside, delivery, load_config())
    assert threads_by_table[LARGEST].startswith("caseflags-ingest")
    assert {name for t, name in threads_by_table.items() if t != LARGEST} == {threading.current_thread().name}
    assert alongside.execute("SELECT current_setting('threads')").fetchone()[0] == threads_before

    monkeypatch.setattr(stage_module, "largest_plain_csv", lambda files, eligible: None)
    in_turn = store()
    without = stage_delivery(in_turn, delivery, load_config())
    assert staged_tables(alongside) == staged_tables(in_turn)
    assert staged_tables(alongside)[f"_staged_{LARGEST}"]
    assert outcomes(with_ahead) == outcomes(without)


def test_an_unchanged_largest_file_is_not_staged_again(delivery, tmp_path, monkeypatch):
    from datetime import date

    from conftest import SAMPLE_AS_AT

    from caseflags.runbook import run_without_prefect

    con = store()
    run_without_prefect(con, delivery, date.fromisoformat(SAMPLE_AS_AT), tmp_path / "reports", load_config())
    staged = []
    monkeypatch.setattr(ahead_module, "stage_csv_in_engine", lambda *a: staged.append(a[2]))
    again = stage_delivery(con, delivery, load_config())
    assert again.outcomes[LARGEST].status == "UNCHANGED"
    assert staged == []


def test_a_night_stopped_before_its_turn_leaves_nothing_staged_ahead(delivery, monkeypatch):
    def stop(*args, **kwargs):
        raise RunAborted("stopped for the test")

    con = store()
    monkeypatch.setattr(stage_module, "_stage_one_table", stop)
    with pytest.raises(RunAborted):
        stage_delivery(con, delivery, load_config())
    assert f"_staged_{LARGEST}" not in staged_tables(con)


def test_a_file_that_cannot_be_scanned_is_refused_by_name_at_its_turn(delivery, monkeypatch):
    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(ahead_module, "scan_file", unreadable)
    result = stage_delivery(store(), delivery, load_config())
    assert result.outcomes[LARGEST].status == "REFUSED"
    assert any(r["file"] == f"{LARGEST}.csv" and "unreadable" in r["reason"] for r in result.refused_files)
    assert result.outcomes["ssd_person"].status == "LOADED"


def test_running_out_of_memory_stops_the_night_naming_the_limit(delivery, monkeypatch):
    def out_of_memory(*args):
        raise duckdb.OutOfMemoryException("failed to allocate data of size 128.0 MiB")

    monkeypatch.setattr(ahead_module, "stage_csv_in_engine", out_of_memory)
    with pytest.raises(RunAborted, match=r"attendance_sessions\.csv.*\[limits\] memory_limit_mib"):
        stage_delivery(store(), delivery, load_config())
