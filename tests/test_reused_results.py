"""A rerun of the same as-at date on which nothing the checks and outputs read has changed keeps
the last run's results (caseflags.outputs.reuse), says so in run.json, and anything that does
change them (an extract, a threshold, a review saved in the browser, an edited report file)
makes the run compute them again."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date

import pytest
from conftest import SAMPLE_AS_AT

from caseflags.runbook import run_without_prefect
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.sample_data.compare_truth import run_exceptions
from caseflags.settings import load_config
from caseflags.store.database import connect
from caseflags.web.reviews import save_reviews
from caseflags.workspace.database import connect_workspace, workspace_path

AS_AT = date.fromisoformat(SAMPLE_AS_AT)


def run(db, delivery, reports, config=None):
    con = connect(db)
    try:
        record = run_without_prefect(con, delivery, AS_AT, reports, config or load_config(), db_path=db)
        return record, run_exceptions(con, SAMPLE_AS_AT)
    finally:
        con.close()


def folder_state(run_dir):
    """Every file of the run folder but run.json: content and modification time."""
    return {
        p.relative_to(run_dir).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != "run.json"
    }


@pytest.fixture(scope="module")
def first_night_kept(sample_run, tmp_path_factory):
    """A copy of the session's sample store, rerun once here so its results are recorded for
    this reports folder (the basis includes the folder), then every file of it kept aside."""
    source_db, _, _ = sample_run
    home = tmp_path_factory.mktemp("first-night")
    db = home / "store.duckdb"
    shutil.copy(source_db, db)
    shutil.copy(source_db.with_suffix(".linkage-model.json"), db.with_suffix(".linkage-model.json"))
    record, exceptions = run(db, SAMPLE_DELIVERY, home / "reports")
    assert record["reused_results"] is None  # nothing recorded yet for this folder: a full run
    kept = tmp_path_factory.mktemp("first-night-kept") / "home"
    shutil.copytree(home, kept)
    return home, kept, record, exceptions


@pytest.fixture
def first_night(first_night_kept):
    """The first night as it finished, put back at the same path for each test (the path of the
    reports folder is part of the basis): one pipeline run for the module, not one per test."""
    home, kept, record, exceptions = first_night_kept
    shutil.rmtree(home)
    shutil.copytree(kept, home)  # contents, modes and modification times
    return home / "store.duckdb", home / "reports", copy.deepcopy(record), exceptions


def test_unchanged_rerun_keeps_the_results_and_says_so(first_night):
    db, reports, first, first_exceptions = first_night
    run_dir = reports / SAMPLE_AS_AT
    before = folder_state(run_dir)

    record, exceptions = run(db, SAMPLE_DELIVERY, reports)

    assert record["reused_results"] is not None
    assert "unchanged" in record["reused_results"]["reason"]
    assert exceptions == first_exceptions
    assert record["checks"] == first["checks"]
    assert folder_state(run_dir) == before  # not one file rewritten
    assert json.loads((run_dir / "run.json").read_text())["reused_results"] == record["reused_results"]
    assert all(e["status"] == "UNCHANGED" for e in record["extracts"].values() if e["status"] != "NOT_DELIVERED")


def test_an_edited_or_missing_output_file_is_written_again(first_night):
    db, reports, _, _ = first_night
    run_dir = reports / SAMPLE_AS_AT
    before = folder_state(run_dir)
    (run_dir / "exceptions.csv").write_text("tampered\n")
    agency_file = next(p for p in sorted((run_dir / "agencies").rglob("*.csv")))
    agency_file.unlink()

    record, _ = run(db, SAMPLE_DELIVERY, reports)

    assert record["reused_results"] is None
    after = folder_state(run_dir)
    assert after.keys() == before.keys()
    # The CSVs come back byte for byte (a workbook carries the time it was written, the report
    # this run's own statuses and timings)
    text = lambda state: {k: v[0] for k, v in state.items() if k.endswith(".csv")}  # noqa: E731
    assert text(after) == text(before)
    # and now the folder is intact again, the next rerun keeps it
    assert run(db, SAMPLE_DELIVERY, reports)[0]["reused_results"] is not None


def test_a_changed_threshold_recomputes(first_night, tmp_path):
    db, reports, _, first_exceptions = first_night
    config_file = tmp_path / "caseflags.toml"
    config_file.write_text("[checks.CIN_REVIEW_OVERDUE]\nreview_interval_weeks = 4\n")

    record, exceptions = run(db, SAMPLE_DELIVERY, reports, load_config(config_file))

    assert record["reused_results"] is None
    overdue = lambda rows: {r for r in rows if r[0] == "CIN_REVIEW_OVERDUE"}  # noqa: E731
    assert overdue(exceptions) > overdue(first_exceptions)  # a shorter interval finds more


def test_a_review_saved_in_the_browser_recomputes(first_night):
    db, reports, _, _ = first_night
    con = connect(db)
    try:
        exception_id = con.execute(
            "SELECT exception_id FROM exceptions WHERE run_id = ? ORDER BY exception_id LIMIT 1", [SAMPLE_AS_AT]
        ).fetchall()[0][0]
    finally:
        con.close()
    ws = connect_workspace(workspace_path(db))
    try:
        save_reviews(ws, [exception_id], "IN_HAND", "asked the school", reviewer="officer1", expiry_days=90)
    finally:
        ws.close()

    record, _ = run(db, SAMPLE_DELIVERY, reports)

    assert record["reused_results"] is None
    exceptions_csv = (reports / SAMPLE_AS_AT / "exceptions.csv").read_text()
    assert "asked the school" in exceptions_csv  # carried and written, not kept from before


def test_a_changed_extract_recomputes(first_night, tmp_path):
    db, reports, _, _ = first_night
    delivery = tmp_path / "delivery"
    shutil.copytree(SAMPLE_DELIVERY, delivery)
    meetings = delivery / "meetings.csv"
    lines = meetings.read_text().splitlines(keepends=True)
    meetings.write_text("".join(lines[:-1]))  # one meeting fewer

    record, _ = run(db, delivery, reports)

    assert record["reused_results"] is None
    assert record["extracts"]["meetings"]["status"] == "LOADED"


def test_a_run_of_another_date_entering_the_history_recomputes(first_night, tmp_path):
    """The outputs compare with the previous run and show the run history: a backfill of an
    earlier date after a later one ran is computed again, not kept."""
    from datetime import timedelta

    from caseflags.sample_data.churn import next_night

    db, reports, _, _ = first_night
    later = AS_AT + timedelta(days=1)
    delivery = tmp_path / "night2"
    next_night(SAMPLE_DELIVERY, delivery, later, seed=1)
    con = connect(db)
    try:
        run_without_prefect(con, delivery, later, reports, load_config(), db_path=db)
    finally:
        con.close()

    record, _ = run(db, SAMPLE_DELIVERY, reports)

    assert record["reused_results"] is None


def test_a_rerun_that_keeps_its_results_still_carries_audit_work_from_the_browser(first_night):
    """Audit samples and outcomes are in no report file, so they do not change the basis; the
    rerun keeps its results and carries them all the same, and republishes the web snapshot."""
    import duckdb

    from caseflags.outputs.snapshot import snapshot_path
    from caseflags.web.audit import draw, record_outcome

    db, reports, _, _ = first_night
    snapshot = snapshot_path(db)
    published = snapshot.stat().st_mtime_ns
    settings = load_config().sample
    ws = connect_workspace(workspace_path(db))
    cur = duckdb.connect(str(snapshot), read_only=True)
    try:
        result = draw(ws, cur, AS_AT, size=4, seed=7, settings=settings, drawn_by="officer1")
        child = next(c for c in result.children if c.exceptions)
        record_outcome(
            ws,
            result,
            child.person_id,
            child.exceptions[0].check_id,
            "CONFIRMED",
            "seen in the file",
            recorded_by="officer1",
            known_checks=set(),
        )
    finally:
        cur.close()
        ws.close()

    record, _ = run(db, SAMPLE_DELIVERY, reports)

    assert record["reused_results"] is not None
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM audit_samples WHERE sample_id = ?", [result.sample_id]).fetchall() == [
            (1,)
        ]
        assert con.execute("SELECT outcome FROM audit_outcomes WHERE sample_id = ?", [result.sample_id]).fetchall() == [
            ("CONFIRMED",)
        ]
    finally:
        con.close()
    assert snapshot.stat().st_mtime_ns > published
