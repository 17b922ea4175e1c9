"""Row-level change detection (issue 28): a night counts, per contract table, the rows new,
changed and gone since the night before (by business key; tables without one by row hash), in
run.json and the run row. Files unchanged by digest are not read again: all their rows unchanged."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

from conftest import SAMPLE_AS_AT

from caseflags.runbook import run_without_prefect
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.settings import load_config
from caseflags.store.database import connect

NEXT_AS_AT = date.fromisoformat(SAMPLE_AS_AT) + timedelta(days=1)


def edit_lines(path, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(edit(lines)), encoding="utf-8")


def test_first_night_is_a_baseline_with_every_row_new(sample_run):
    _, _, record = sample_run
    changes = record["row_changes"]
    loaded = {t: e for t, e in record["extracts"].items() if e["status"] == "LOADED"}
    assert set(changes) == set(loaded)
    for table, outcome in loaded.items():
        assert changes[table]["baseline"] is True
        assert changes[table]["rows_new"] == outcome["rows_loaded"], table
        assert changes[table]["rows_changed"] == changes[table]["rows_gone"] == changes[table]["rows_unchanged"] == 0


def test_next_night_counts_new_changed_and_gone_rows_per_table(sample_run, tmp_path):
    first_db, _, _ = sample_run
    delivery = tmp_path / "night2"
    shutil.copytree(SAMPLE_DELIVERY, delivery)
    # meetings (keyed by meeting_id): one row changed, one gone, one new.
    edit_lines(
        delivery / "meetings.csv",
        lambda lines: [
            lines[0],
            lines[1].replace(",Y\n", ",N\n"),  # MTG...01: child_attended Y -> N
            *lines[3:],  # MTG...02 gone
            lines[3].replace("MTG0000000003", "MTG9999999999"),  # a new meeting
        ],
    )
    # ssd_address (no key): a row gone, a row changed (a row gone and one new), a row new.
    edit_lines(
        delivery / "ssd_address.csv",
        lambda lines: [
            lines[0],  # line 1 gone
            lines[2],
            lines[3].replace("GL12 2TT", "GL12 2TU"),  # changed postcode
            *lines[4:],
            lines[1].replace("2014-01-01", "2015-01-01"),  # new (another history row)
        ],
    )
    db = tmp_path / "store.duckdb"
    shutil.copy(first_db, db)
    con = connect(db)
    try:
        record = run_without_prefect(con, delivery, NEXT_AS_AT, tmp_path / "reports", load_config(), db_path=db)
        stages_json = json.loads(
            con.execute("SELECT stages_json FROM runs WHERE run_id = ?", [NEXT_AS_AT.isoformat()]).fetchone()[0]
        )
    finally:
        con.close()
    changes = record["row_changes"]
    meetings = record["extracts"]["meetings"]
    assert meetings["status"] == "LOADED"
    assert changes["meetings"] == {
        "keyed": True,
        "baseline": False,
        "rows_new": 1,
        "rows_changed": 1,
        "rows_gone": 1,
        "rows_unchanged": meetings["rows_loaded"] - 2,
    }
    address = record["extracts"]["ssd_address"]
    assert address["status"] == "LOADED"
    assert changes["ssd_address"] == {
        "keyed": False,
        "baseline": False,
        "rows_new": 2,
        "rows_changed": 0,
        "rows_gone": 2,
        "rows_unchanged": address["rows_loaded"] - 2,
    }
    # Every other file is byte-identical: not read again, all its rows unchanged.
    unchanged = {t: e for t, e in record["extracts"].items() if e["status"] == "UNCHANGED"}
    assert len(unchanged) >= 20
    for table, outcome in unchanged.items():
        assert changes[table]["rows_unchanged"] == outcome["rows_loaded"], table
        assert changes[table]["rows_new"] == changes[table]["rows_changed"] == changes[table]["rows_gone"] == 0
    assert stages_json["row_changes"] == changes


def test_rows_sharing_a_key_are_compared_by_their_hash(tmp_path):
    """A key held by two rows keys neither (they are compared as rows without a key): the other
    rows of the table are still compared by key."""
    from caseflags.store.changes import detect_row_changes
    from caseflags.store.database import ensure_store
    from caseflags.store.ledger import ExtractOutcome

    con = connect(tmp_path / "store.duckdb")
    ensure_store(con)
    meeting = "INSERT INTO meetings VALUES (?, 'P1', 'CIN_REVIEW', DATE '2026-01-01', 'HELD', NULL, NULL, NULL, ?)"
    outcome = {"meetings": ExtractOutcome("meetings", "meetings.csv", "LOADED")}
    keys = {"meetings": ("meeting_id",)}
    for meeting_id, attended in [("M1", True), ("M2", True), ("M2", False)]:
        con.execute(meeting, [meeting_id, attended])
    first = detect_row_changes(con, "night-1", outcome, keys)["meetings"]
    assert (first["baseline"], first["rows_new"]) == (True, 3)
    con.execute("DELETE FROM meetings")
    # M1 changed (by key); of the two M2 rows one is gone and another new (no key to pair them).
    for meeting_id, attended in [("M1", False), ("M2", True), ("M2", None)]:
        con.execute(meeting, [meeting_id, attended])
    second = detect_row_changes(con, "night-2", outcome, keys)["meetings"]
    assert (second["rows_new"], second["rows_changed"], second["rows_gone"], second["rows_unchanged"]) == (1, 1, 1, 1)
