"""Damaged deliveries through the whole run: the night completes, the bad file or rows are
named, every other table loads, the ledger balances; a failure outside reading marks the run
FAILED with one line (exit 2 at the command line) and leaves nothing behind."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from caseflags import runbook
from caseflags.cli import _print_run_summary
from caseflags.errors import RunAborted, RunFailed
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.sample_data._tables import RETURNS_ONLY_TABLES
from caseflags.settings import load_config
from caseflags.store.database import connect

AS_AT = date(2026, 11, 24)
pytestmark = pytest.mark.e2e  # whole nights on damaged deliveries


def damaged_sample(folder: Path) -> Path:
    """The bundled sample with every damage of issue 14 at once."""
    shutil.copytree(SAMPLE_DELIVERY, folder, ignore=shutil.ignore_patterns("ground_truth", "manifest.json"))
    # ssd_person: one key delivered twice with different contents.
    person = (folder / "ssd_person.csv").read_text().splitlines(keepends=True)
    fields = person[5].rstrip("\n").split(",")
    send_flag = person[0].rstrip("\n").split(",").index("pers_send_flag")
    fields[send_flag] = "Y" if fields[send_flag] == "N" else "N"  # the same key, another value
    twin = ",".join(fields) + "\n"
    (folder / "ssd_person.csv").write_text("".join(person) + twin)
    # meetings: cut inside a quoted field.
    meetings = (folder / "meetings.csv").read_text()
    (folder / "meetings.csv").write_text(meetings + 'MTG9999999999,00100000,CIN_MEETING,2026-01-05,HELD,"2026-01')
    # attendance_summaries as Parquet: NaN in an optional column, infinity in a required one.
    summaries = pl.read_csv(folder / "attendance_summaries.csv", infer_schema=False)
    (folder / "attendance_summaries.csv").unlink()
    possible = [float(v) for v in summaries["possible_sessions"]]
    possible[1] = math.inf
    authorised = [float(v) for v in summaries["authorised_absence_sessions"]]
    authorised[2] = math.nan
    summaries.with_columns(
        pl.Series("possible_sessions", possible), pl.Series("authorised_absence_sessions", authorised)
    ).write_parquet(folder / "attendance_summaries.parquet")
    # ehcp_plans as a corrupt Parquet file.
    (folder / "ehcp_plans.csv").unlink()
    (folder / "ehcp_plans.parquet").write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
    # family_contacts: a 1 MB field on the line-by-line path (a blank line forces it).
    contacts = (folder / "family_contacts.csv").read_text().splitlines(keepends=True)
    fields = contacts[3].rstrip("\n").split(",")
    fields[1] = "x" * 1_000_000
    contacts[3] = ",".join(fields) + "\n\n"
    (folder / "family_contacts.csv").write_text("".join(contacts))
    # transition_plans in UTF-16 without a byte-order mark; professional_differences empty;
    # voice_records header only.
    (folder / "transition_plans.csv").write_bytes((folder / "transition_plans.csv").read_text().encode("utf-16-be"))
    (folder / "professional_differences.csv").write_bytes(b"")
    header = (folder / "voice_records.csv").read_text().splitlines()[0]
    (folder / "voice_records.csv").write_text(header + "\n")
    return folder


@pytest.fixture(scope="module")
def damaged_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    extracts = damaged_sample(folder / "delivery")
    con = connect(folder / "store.duckdb")
    try:
        record = runbook.run_without_prefect(
            con, extracts, AS_AT, folder / "reports", load_config(), db_path=folder / "store.duckdb"
        )
        quarantine = con.execute(
            "SELECT file, line, reason, raw_line, raw_length FROM quarantine WHERE run_id = ?", [AS_AT.isoformat()]
        ).fetchall()
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in record["extracts"]}
        run_row = con.execute("SELECT status FROM runs").fetchall()
    finally:
        con.close()
    return record, quarantine, counts, run_row, folder


def test_the_night_completes_and_names_every_bad_file(damaged_run):
    record, _quarantine, _counts, run_row, _folder = damaged_run
    assert record["status"] == "COMPLETED" and run_row == [("COMPLETED",)]
    refused = {r["file"]: r["reason"] for r in record["refused_files"]}
    assert refused["ehcp_plans.parquet"].startswith("unreadable Parquet file")
    assert refused["transition_plans.csv"].startswith("UTF-16 encoded text without a byte-order mark")
    assert refused["professional_differences.csv"] == "empty file (0 bytes)"
    assert refused["voice_records.csv"] == "header row only: no records"
    damaged = {"ehcp_plans", "transition_plans", "professional_differences", "voice_records"}
    for table, extract in record["extracts"].items():
        if table in RETURNS_ONLY_TABLES:  # filled by the CIN census alone; a CSV delivery has none
            assert extract["status"] == "NOT_DELIVERED", table
            continue
        assert extract["status"] == ("REFUSED" if table in damaged else "LOADED"), table


def test_bad_rows_are_quarantined_and_the_rest_of_their_tables_loads(damaged_run):
    record, quarantine, counts, _run_row, _folder = damaged_run
    reasons = {(file, line): reason for file, line, reason, _raw, _length in quarantine}
    person_lines = (SAMPLE_DELIVERY / "ssd_person.csv").read_text().count("\n")
    assert reasons[("ssd_person.csv", 6)].startswith("duplicate key (pers_person_id): 2 rows with this key differ")
    assert reasons[("ssd_person.csv", person_lines + 1)].startswith("duplicate key (pers_person_id)")
    assert counts["ssd_person"] == person_lines - 2  # every other person loaded
    meetings_lines = (SAMPLE_DELIVERY / "meetings.csv").read_text().count("\n")
    assert reasons[("meetings.csv", meetings_lines + 1)].startswith("unterminated quoted field")
    assert counts["meetings"] == meetings_lines - 1
    assert reasons[("attendance_summaries.parquet", 2)] == "not a finite number (infinity)"
    assert counts["attendance_summaries"] == (SAMPLE_DELIVERY / "attendance_summaries.csv").read_text().count("\n") - 2
    assert reasons[("family_contacts.csv", 4)].startswith("field longer than max_field_size")
    [(raw, length)] = [(r, n) for f, line, _reason, r, n in quarantine if (f, line) == ("family_contacts.csv", 4)]
    assert len(raw) == 1000 and length > 1_000_000


def test_the_ledger_balances_for_every_file_and_reaches_run_json_and_the_console(damaged_run, capsys):
    record, _quarantine, counts, _run_row, folder = damaged_run
    assert record["ledger_balanced"] is True
    entries = {(e["file"], e["table"]): e for e in record["ledger"]}
    person = entries[("ssd_person.csv", "ssd_person")]
    assert (person["read"], person["loaded"], person["quarantined"]) == (
        counts["ssd_person"] + 2,
        counts["ssd_person"],
        2,
    )
    assert entries[("ehcp_plans.parquet", "ehcp_plans")]["status"] == "REFUSED"
    run_json = json.loads((folder / "reports" / AS_AT.isoformat() / "run.json").read_text())
    assert run_json["ledger"] == record["ledger"]
    _print_run_summary(folder / "reports" / AS_AT.isoformat())
    out = capsys.readouterr().out
    assert "ledger" in out and "UNBALANCED" not in out
    for line in ("refused ehcp_plans.parquet: unreadable Parquet file", "refused voice_records.csv: header row only"):
        assert line in out
    report = (folder / "reports" / AS_AT.isoformat() / "report.html").read_text()
    assert 'id="ledger"' in report and "Every delivered file balances." in report


def test_a_failure_outside_reading_marks_the_run_failed_in_one_line(tmp_path, monkeypatch):
    extracts = tmp_path / "delivery"
    extracts.mkdir()
    shutil.copy(SAMPLE_DELIVERY / "ssd_person.csv", extracts)
    con = connect(tmp_path / "store.duckdb")

    def broken_checks(*_args, **_kwargs):
        raise RuntimeError("disk full while writing P123's exceptions")

    monkeypatch.setattr(runbook, "run_all_checks", broken_checks)
    with pytest.raises(RunFailed) as failed:
        runbook.run_without_prefect(con, extracts, AS_AT, tmp_path / "reports", load_config())
    message = str(failed.value)
    assert isinstance(failed.value, RunAborted)  # the CLI's one-line, exit 2 path
    assert "\n" not in message and "checks stage" in message and "P123" not in message
    status, stages = con.execute("SELECT status, stages_json FROM runs").fetchone()
    assert status == "FAILED" and json.loads(stages)["failed_stage"] == "checks"
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_staged\\_%' ESCAPE '\\'"
    ).fetchone() == (0,)
    con.close()  # (DuckDB's own write-ahead log goes with its connection)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".duckdb", ".csv")]
    assert leftovers == []  # no temporary or half-written file (no run.json for a failed run)


def test_no_extract_at_all_marks_the_run_failed_too(tmp_path):
    (tmp_path / "empty").mkdir()
    con = connect(tmp_path / "store.duckdb")
    with pytest.raises(RunAborted, match="no extract files found"):
        runbook.run_without_prefect(con, tmp_path / "empty", AS_AT, tmp_path / "reports", load_config())
    assert con.execute("SELECT status FROM runs").fetchall() == [("FAILED",)]


def test_a_national_return_is_in_the_ledger_with_its_quarantined_records(tmp_path):
    """Returns are accounted like CSVs: per table, read = loaded + quarantined; the children the
    return's own rules quarantined count in its primary table (ssd_person)."""
    extracts = tmp_path / "delivery"
    extracts.mkdir()
    shutil.copy(Path(__file__).parent / "fixtures" / "returns" / "cin_faults.xml", extracts / "census.xml")
    con = connect(tmp_path / "store.duckdb")
    state = runbook.new_run(con, AS_AT, extracts, tmp_path / "reports")
    runbook.ingest(con, state, load_config())
    entries = {e["table"]: e for o in state.extracts.values() for e in o.ledger}
    person = entries["ssd_person"]
    # Three children break a rule something depends on (an impossible birth date, a missing
    # referral date, a duplicated child); a stray text and an unknown primary need are warnings.
    assert (person["file"], person["read"], person["loaded"], person["quarantined"]) == ("census.xml", 7, 4, 3)
    assert all(e["balanced"] for e in entries.values())
    assert state.extracts["ssd_person"].rows_quarantined == 3
    staged = {
        q["line"] for frame in state.staged.quarantine for q in frame.to_dicts() if q["table_name"] == "ssd_person"
    }
    assert {56, 73, 78} <= staged


def test_a_failed_system_call_outside_reading_keeps_its_own_error_and_marks_the_run_failed(tmp_path, monkeypatch):
    """A full disk or a read-only folder reaches the command line as itself, which names it in
    one line (caseflags/failures.py); the run row still says FAILED."""
    import errno
    import os

    extracts = tmp_path / "delivery"
    extracts.mkdir()
    shutil.copy(SAMPLE_DELIVERY / "ssd_person.csv", extracts)
    con = connect(tmp_path / "store.duckdb")

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "reports"))

    monkeypatch.setattr(runbook, "run_all_checks", full_disk)
    with pytest.raises(OSError) as failed:
        runbook.run_without_prefect(con, extracts, AS_AT, tmp_path / "reports", load_config())
    assert failed.value.errno == errno.ENOSPC
    assert con.execute("SELECT status FROM runs").fetchall() == [("FAILED",)]
