"""Staging and publishing: a refused or failed table keeps its previous data; reruns are equal;
an interrupted run leaves the live tables as they were."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest

from caseflags import runbook as pipeline
from caseflags.settings import load_config
from caseflags.store import publish as publish_module
from caseflags.store.database import connect
from caseflags.store.publish import publish

PERSON_HEADER = (
    "pers_person_id,pers_upn,pers_single_unique_id,pers_forename,pers_surname,pers_dob,pers_sex,pers_send_flag"
)
PLANS_HEADER = "cinp_cin_plan_id,cinp_referral_id,cinp_person_id,cinp_cin_plan_start_date,cinp_cin_plan_end_date"


def delivery(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def stage_and_publish(con, folder: Path, as_at: date, out: Path):
    config = load_config()
    state = pipeline.new_run(con, as_at, folder, out)
    pipeline.ingest(con, state, config)
    publish(con, state.run_id, state.as_at, state.extracts, state.staged)
    return state


def table_rows(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_refused_table_keeps_previous_data_and_others_load(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    first = delivery(
        tmp_path / "d1",
        {
            "ssd_person.csv": PERSON_HEADER + "\nP1,,,A,B,2015-01-01,F,Y\n",
            "ssd_cin_plans.csv": PLANS_HEADER + "\nPL1,R1,P1,2026-01-01,\n",
        },
    )
    stage_and_publish(con, first, date(2026, 11, 1), tmp_path / "out")
    second = delivery(
        tmp_path / "d2",
        {
            # A new person, and a plans file that lost its required start-date column.
            "ssd_person.csv": PERSON_HEADER + "\nP1,,,A,B,2015-01-01,F,Y\nP2,,,C,D,2016-02-02,M,N\n",
            "ssd_cin_plans.csv": "cinp_cin_plan_id,cinp_referral_id,cinp_person_id\nPL9,R9,P2\n",
        },
    )
    state = stage_and_publish(con, second, date(2026, 11, 2), tmp_path / "out")
    assert state.extracts["ssd_cin_plans"].status == "REFUSED"
    assert "cinp_cin_plan_start_date" in state.extracts["ssd_cin_plans"].reason
    assert state.extracts["ssd_cin_plans"].stale is True
    assert [r[0] for r in table_rows(con, "ssd_cin_plans")] == ["PL1"]
    assert [r[0] for r in table_rows(con, "ssd_person")] == ["P1", "P2"]
    assert state.unavailable_tables()["ssd_cin_plans"].startswith("refused: missing required column")
    loads = con.execute(
        "SELECT table_name, status, delivered_as_at FROM extract_loads WHERE run_id = '2026-11-02' AND table_name IN ('ssd_person', 'ssd_cin_plans') ORDER BY 1"
    ).fetchall()
    assert loads == [("ssd_cin_plans", "REFUSED", date(2026, 11, 1)), ("ssd_person", "LOADED", date(2026, 11, 2))]


def test_rerunning_the_same_delivery_leaves_every_table_equal(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    folder = delivery(
        tmp_path / "d1",
        {
            "ssd_person.csv": PERSON_HEADER + "\nP1,,943 476 5919,A,B,2015-01-01,F,Y\nP2,,123,C,D,bad-date,M,N\n",
            "ssd_cin_plans.csv": PLANS_HEADER + "\nPL1,R1,P1,2026-01-01,\n",
        },
    )
    stage_and_publish(con, folder, date(2026, 11, 1), tmp_path / "out")
    tables = ["ssd_person", "ssd_cin_plans", "quarantine", "identifier_issues"]
    before = {t: table_rows(con, t) for t in tables}
    stage_and_publish(con, folder, date(2026, 11, 1), tmp_path / "out")
    after = {t: table_rows(con, t) for t in tables}
    assert before == after
    assert len(before["quarantine"]) == 1


def test_a_run_interrupted_before_publish_changes_no_live_table(tmp_path, monkeypatch):
    con = connect(tmp_path / "store.duckdb")
    first = delivery(tmp_path / "d1", {"ssd_person.csv": PERSON_HEADER + "\nP1,,,A,B,2015-01-01,F,Y\n"})
    stage_and_publish(con, first, date(2026, 11, 1), tmp_path / "out")
    second = delivery(tmp_path / "d2", {"ssd_person.csv": PERSON_HEADER + "\nP7,,,A,B,2015-01-01,F,Y\n"})
    config = load_config()
    state = pipeline.new_run(con, date(2026, 11, 2), second, tmp_path / "out")
    pipeline.ingest(con, state, config)

    def fail_after_the_swap(*args, **kwargs):
        raise RuntimeError("disk full")

    # Called for the load records, after the staged table was renamed into place.
    monkeypatch.setattr(publish_module, "_last_delivered", fail_after_the_swap)
    with pytest.raises(RuntimeError):
        publish(con, state.run_id, state.as_at, state.extracts, state.staged)
    assert [r[0] for r in table_rows(con, "ssd_person")] == ["P1"]
    assert con.execute("SELECT count(*) FROM extract_loads WHERE run_id = '2026-11-02'").fetchone()[0] == 0


def test_store_file_is_private(tmp_path):
    con = connect(tmp_path / "new" / "store.duckdb")
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    mode = stat.S_IMODE(os.stat(tmp_path / "new" / "store.duckdb").st_mode)
    assert mode & 0o077 == 0


def test_run_aborts_with_one_line_when_the_folder_is_missing(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    state = pipeline.new_run(con, date(2026, 11, 1), tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(pipeline.RunAborted, match="extracts folder not found"):
        pipeline.ingest(con, state, load_config())


def test_an_unchanged_extract_is_not_reloaded_and_its_quarantine_is_listed_again(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    folder = delivery(
        tmp_path / "d1",
        {
            "ssd_person.csv": PERSON_HEADER + "\nP1,,,A,B,2015-01-01,F,Y\nP2,,,C,D,bad-date,M,N\n",
            "ssd_cin_plans.csv": PLANS_HEADER + "\nPL1,R1,P1,2026-01-01,\n",
        },
    )
    stage_and_publish(con, folder, date(2026, 11, 1), tmp_path / "out")
    (folder / "ssd_cin_plans.csv").write_text(PLANS_HEADER + "\nPL1,R1,P1,2026-01-01,\nPL2,R2,P1,2026-02-01,\n")
    state = stage_and_publish(con, folder, date(2026, 11, 2), tmp_path / "out")
    assert state.extracts["ssd_person"].status == "UNCHANGED"
    assert state.extracts["ssd_cin_plans"].status == "LOADED"
    assert "ssd_person" not in state.unavailable_tables()
    assert [r[0] for r in table_rows(con, "ssd_person")] == ["P1"]
    assert [r[0] for r in table_rows(con, "ssd_cin_plans")] == ["PL1", "PL2"]
    carried = con.execute("SELECT file, line FROM quarantine WHERE run_id = '2026-11-02'").fetchall()
    assert carried == [("ssd_person.csv", 3)]


def test_the_contract_library_starts_loading_only_when_a_table_changed(tmp_path):
    """Ingest calls `on_first_change` once, before parsing the first changed table (the runbook
    starts importing Great Expectations then); a delivery with nothing changed never calls it."""
    from caseflags.ingest.stage import stage_delivery
    from caseflags.store.database import ensure_store

    con = connect(tmp_path / "store.duckdb")
    ensure_store(con)
    folder = delivery(
        tmp_path / "d1",
        {
            "ssd_person.csv": PERSON_HEADER + "\nP1,,,A,B,2015-01-01,F,Y\n",
            "ssd_cin_plans.csv": PLANS_HEADER + "\nPL1,R1,P1,2026-01-01,\n",
        },
    )
    calls = []
    first = stage_delivery(con, folder, load_config(), on_first_change=lambda: calls.append("changed"))
    assert calls == ["changed"] and first.outcomes["ssd_person"].status == "LOADED"
    stage_and_publish(con, folder, date(2026, 11, 1), tmp_path / "out")

    calls.clear()
    again = stage_delivery(con, folder, load_config(), on_first_change=lambda: calls.append("changed"))
    assert calls == [] and again.outcomes["ssd_person"].status == "UNCHANGED"
    con.close()
