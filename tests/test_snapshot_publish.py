"""Publishing the web snapshot is part of completing a night (issue 27): killed or out of disk
while publishing, the run is not COMPLETED and the web keeps the previous snapshot; the rerun
publishes again; a rerun whose results are reused republishes whenever the snapshot is older than
the last completed run; temporary copies a killed publish left are removed when a run starts."""

from __future__ import annotations

import errno
import shutil
import signal
from datetime import date

import duckdb
import pytest
from conftest import SAMPLE_AS_AT
from test_operations import run_direct
from test_reused_results import first_night, first_night_kept, run  # noqa: F401 (fixtures)

from caseflags.faults import DISK_FULL, FAULT_ENV
from caseflags.outputs.snapshot import orphaned_temp_files, snapshot_is_current, snapshot_path
from caseflags.runbook import new_run
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.store.database import connect
from caseflags.web.reviews import save_reviews
from caseflags.workspace.database import connect_workspace, workspace_path


def _status(db) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT status FROM runs WHERE run_id = ?", [SAMPLE_AS_AT]).fetchone()[0]
    finally:
        con.close()


def _snapshot_run_status(db) -> str | None:
    con = duckdb.connect(str(snapshot_path(db)), read_only=True)
    try:
        found = con.execute("SELECT status FROM runs WHERE run_id = ?", [SAMPLE_AS_AT]).fetchone()
        return found[0] if found else None
    finally:
        con.close()


def _is_current(db) -> bool:
    con = connect(db)
    try:
        return snapshot_is_current(con, SAMPLE_AS_AT)
    finally:
        con.close()


def _identity(path):
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _save_a_review(db) -> None:
    """A review in the browser: the next run computes its results again, and publishes."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        exception_id = con.execute(
            "SELECT exception_id FROM exceptions WHERE run_id = ? ORDER BY exception_id LIMIT 1", [SAMPLE_AS_AT]
        ).fetchone()[0]
    finally:
        con.close()
    ws = connect_workspace(workspace_path(db))
    try:
        save_reviews(ws, [exception_id], "IN_HAND", "asked the school", reviewer="officer1", expiry_days=90)
    finally:
        ws.close()


def test_a_night_killed_while_publishing_is_not_completed_and_the_rerun_publishes(first_night):
    db, reports, _, _ = first_night
    before = _identity(snapshot_path(db))
    _save_a_review(db)

    code = run_direct(db, SAMPLE_DELIVERY, reports, as_at=SAMPLE_AS_AT, fault="mid:snapshot")

    assert code == -signal.SIGKILL, "the run was not killed while publishing"
    assert _status(db) == "RUNNING"  # not COMPLETED: its snapshot was never published
    assert _identity(snapshot_path(db)) == before  # the web keeps serving the previous night
    assert orphaned_temp_files(db), "the killed publish left its copy of the store"

    record, _ = run(db, SAMPLE_DELIVERY, reports)

    assert record["status"] == "COMPLETED" and _status(db) == "COMPLETED"
    assert orphaned_temp_files(db) == []  # removed at start
    assert _identity(snapshot_path(db)) != before and _is_current(db)
    assert _snapshot_run_status(db) == "COMPLETED"


def test_a_night_out_of_disk_while_publishing_is_failed_and_the_rerun_publishes(first_night, monkeypatch):
    db, reports, _, _ = first_night
    before = _identity(snapshot_path(db))
    _save_a_review(db)
    monkeypatch.setenv(FAULT_ENV, DISK_FULL + "mid:snapshot")

    with pytest.raises(OSError) as failed:
        run(db, SAMPLE_DELIVERY, reports)

    assert failed.value.errno == errno.ENOSPC
    assert _status(db) == "FAILED"
    assert _identity(snapshot_path(db)) == before
    assert orphaned_temp_files(db) == []  # a failed publish removes its own copy

    monkeypatch.delenv(FAULT_ENV)
    run(db, SAMPLE_DELIVERY, reports)
    assert _status(db) == "COMPLETED" and _is_current(db) and _identity(snapshot_path(db)) != before


def test_a_rerun_republishes_a_snapshot_older_than_the_last_completed_run(first_night, sample_run):
    db, reports, _, _ = first_night
    # an unchanged rerun with a current snapshot keeps it (publishing costs a copy of the store)
    current = _identity(snapshot_path(db))
    assert run(db, SAMPLE_DELIVERY, reports)[0]["reused_results"] is not None
    assert _identity(snapshot_path(db)) == current

    # the snapshot of an earlier completed run (e.g. restored from a backup, or another night's)
    shutil.copy(snapshot_path(sample_run[0]), snapshot_path(db))
    assert not _is_current(db)
    record, _ = run(db, SAMPLE_DELIVERY, reports)
    assert record["reused_results"] is not None
    assert _is_current(db) and _snapshot_run_status(db) == "COMPLETED"


def test_orphaned_snapshot_copies_are_removed_when_a_run_starts(tmp_path):
    db = tmp_path / "store.duckdb"
    name = snapshot_path(db).name
    orphans = [tmp_path / f".{name}.4242.139.tmp", tmp_path / f".{name}.4242.139.tmp.wal"]
    kept = [tmp_path / f".{name}.notes", tmp_path / "other.tmp"]
    for path in orphans + kept:
        path.write_text("x")
    assert orphaned_temp_files(db) == sorted(orphans)
    con = connect(db)
    try:
        new_run(con, date(2026, 11, 24), SAMPLE_DELIVERY, tmp_path / "reports", db_path=db)
    finally:
        con.close()
    assert [p for p in orphans if p.exists()] == []
    assert all(p.exists() for p in kept)
