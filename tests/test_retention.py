"""Retention: old run history, report folders and archived deliveries are deleted; what is live stays."""

from __future__ import annotations

import os
import stat
from datetime import date

from caseflags import runbook as pipeline
from caseflags.store.database import connect
from caseflags.store.retention import apply_retention, archive_delivery


def add_run(con, run_id: str, as_at: date) -> None:
    con.execute(
        "INSERT INTO runs (run_id, as_at, started_at, status) VALUES (?, ?, now()::TIMESTAMP, 'COMPLETED')",
        [run_id, as_at],
    )
    con.execute(
        "INSERT INTO exceptions VALUES (?, ?, 'e1', 'GP_NOT_KNOWN', 'c', 'MEDIUM', 'P1', 'SOCIAL_CARE', 'child', 'P1', 'd', 'l')",
        [run_id, as_at],
    )
    con.execute("INSERT INTO quarantine VALUES (?, 'meetings', 'meetings.csv', 3, 'x', 'r', 'raw', 3)", [run_id])


def test_old_runs_reports_and_deliveries_are_pruned_and_live_load_records_kept(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    state = pipeline.new_run(con, date(2026, 11, 24), tmp_path / "delivery", tmp_path / "reports")
    add_run(con, "2024-01-01", date(2024, 1, 1))
    add_run(con, "2026-11-01", date(2026, 11, 1))
    for run_id, as_at, table in [
        ("2024-01-01", date(2024, 1, 1), "ssd_person"),
        ("2024-01-01", date(2024, 1, 1), "meetings"),
        ("2026-11-01", date(2026, 11, 1), "meetings"),
    ]:
        con.execute(
            "INSERT INTO extract_loads (run_id, table_name, status, delivered_as_at, load_fingerprint) VALUES (?, ?, 'LOADED', ?, 'f')",
            [run_id, table, as_at],
        )
    for name in ["2024-01-01", "2026-11-01", "samples"]:
        (tmp_path / "reports" / name).mkdir(parents=True)
        (tmp_path / "archive" / name).mkdir(parents=True)

    pruned = apply_retention(
        con,
        state.as_at,
        state.out_dir,
        keep_runs_days=365,
        archive_dir=tmp_path / "archive",
        keep_deliveries_days=10,
        keep_last_runs=1,
    )

    assert pruned == {"runs": 1, "report_folders": 1, "archived_deliveries": 2}
    assert [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall()] == ["2026-11-01", "2026-11-24"]
    assert con.execute("SELECT DISTINCT run_id FROM exceptions").fetchall() == [("2026-11-01",)]
    assert con.execute("SELECT DISTINCT run_id FROM quarantine").fetchall() == [("2026-11-01",)]
    # ssd_person's live data came from the old run: its load record survives for incremental loads.
    assert sorted(con.execute("SELECT run_id, table_name FROM extract_loads").fetchall()) == [
        ("2024-01-01", "ssd_person"),
        ("2026-11-01", "meetings"),
    ]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["2026-11-01", "samples"]
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == ["samples"]


def test_the_nights_delivery_is_archived_owner_only(tmp_path):
    delivery = tmp_path / "incoming"
    delivery.mkdir()
    (delivery / "meetings.csv").write_text("meeting_id\n")
    (delivery / ".hidden").write_text("x")
    con = connect(tmp_path / "store.duckdb")
    state = pipeline.new_run(con, date(2026, 11, 24), delivery, tmp_path / "reports")
    target = archive_delivery(state.extracts_dir, state.as_at, tmp_path / "archive")
    assert target == tmp_path / "archive" / "2026-11-24"
    assert sorted(p.name for p in target.iterdir()) == ["meetings.csv"]
    assert stat.S_IMODE(os.stat(target / "meetings.csv").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
