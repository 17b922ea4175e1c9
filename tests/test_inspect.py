"""`caseflags inspect --extracts DIR` (issue 24, part 6): what each file of a delivery would
become, written nowhere; exit 0 when the delivery would load, 2 when an extract would be refused."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.ingest.inspect import inspect_delivery
from caseflags.settings import load_config

runner = CliRunner()


def delivery(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


PERSON = (
    "pers_legacy_id,pers_person_id,pers_upn,pers_dob,pers_single_unique_id,pers_expected_dob\n"
    "L1,P1,A123456789012,2014-01-01 00:00:00.000,9434765919,NULL\n"
    "L2,P2,NULL,NULL,NULL,2027-01-20 00:00:00.000\n"
    "L3,P3,BADUPN,2015-05-05,123,NULL\n"
    "L4,P4,NULL,not a date,NULL,NULL\n"
)


def test_inspect_describes_every_file_and_writes_nothing(tmp_path):
    folder = delivery(
        tmp_path / "d",
        {
            "ssd_person.csv": PERSON,
            "ssd_cla_episodes.csv": "clae_cla_episode_id\nE1\n",
            "notes.txt": "hello\n",
            "mystery.csv": "a\n1\n",
        },
    )
    before = snapshot(tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = runner.invoke(app, ["inspect", "--extracts", str(folder)], env={"COLUMNS": "200"})
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path) == before  # no store, no files
    out = result.output
    assert "not used: SSD table" in out and "mystery.csv" in out and "the delivery would load" in out

    inspection = {f.file: f for f in inspect_delivery(folder, load_config()).files}
    person = inspection["ssd_person.csv"]
    assert (person.recognised_as, person.verdict) == ("ssd_person", "WOULD LOAD")
    assert (person.rows_read, person.would_load, person.would_quarantine) == (4, 3, 1)
    assert person.top_reasons == [("pers_dob: unparseable date (expected YYYY-MM-DD or DD/MM/YYYY)", 1)]
    assert person.ignored == ["pers_legacy_id"]
    assert "pers_forename" in person.missing and "pers_dob" in person.used
    assert person.date_range == ("2014-01-01", "2027-01-20")
    coverage = {i["type"]: (i["rows"], i["present"], i["valid"]) for i in person.identifiers}
    assert coverage == {"NHS_NUMBER": (3, 2, 1), "UPN": (3, 2, 1)}
    assert any("NULL values would load as missing" in n for n in person.notes)
    assert inspection["mystery.csv"].verdict == "WOULD BE REFUSED"


def test_inspect_exits_2_when_a_table_would_be_refused(tmp_path):
    folder = delivery(tmp_path / "d", {"ssd_person.csv": "pers_person_id,pers_dob\nP1,bad\nP2,bad\nP3,2014-01-01\n"})
    result = runner.invoke(app, ["inspect", "--extracts", str(folder)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "WOULD BE REFUSED" in result.output and "untrustworthy" in result.output
    missing = delivery(
        tmp_path / "e",
        {"ssd_cin_plans.csv": "cinp_cin_plan_id,cinp_person_id,cinp_cin_plan_start_date\nC1,P1,2026-01-01\n"},
    )
    result = runner.invoke(app, ["inspect", "--extracts", str(missing)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "missing ssd_person" in result.output
    result = runner.invoke(app, ["inspect", "--extracts", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "extracts folder not found" in result.output
