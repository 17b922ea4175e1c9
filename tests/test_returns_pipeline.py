"""Returns in a whole run: a refused, truncated or foreign return never costs the CSV tables
their checks; the returns' ledger, quarantine and warnings reach run.json, the store, the report
and warnings.csv; a delivery of only unusable files ends with exit 2 and the reasons."""

from __future__ import annotations

import csv
import gzip
import html
import json
import shutil
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest
from returns_builder import cin_child, cin_return, sen2_aggregate, write
from typer.testing import CliRunner

from caseflags.checking.registry import load_registry
from caseflags.cli import app
from caseflags.errors import RunAborted
from caseflags.ingest.stage import stage_delivery
from caseflags.runbook import run_without_prefect
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.settings import load_config
from caseflags.store.database import ensure_store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "returns"
AS_AT = date.fromisoformat(json.loads((SAMPLE_DELIVERY / "manifest.json").read_text())["as_at"])


def _sample_delivery(folder: Path) -> Path:
    folder.mkdir()
    for path in SAMPLE_DELIVERY.glob("*.csv"):
        shutil.copyfile(path, folder / path.name)
    return folder


def _census_with_a_fault_and_a_warning() -> str:
    good = cin_child(2026, "RET1")
    faulty = cin_child(2026, "RET2").replace("<PersonBirthDate>2012-05-06<", "<PersonBirthDate>2012-02-30<")
    warned = cin_child(2026, "RET3").replace("<Ethnicity>WBRI<", "<Ethnicity>ZZZZ<")
    return cin_return(2026, "year before", children=good + faulty + warned)


def _valid(folder: Path) -> str:
    with zipfile.ZipFile(folder / "returns.zip", "w") as archive:
        archive.writestr("cin_2026.xml", _census_with_a_fault_and_a_warning())
        archive.writestr("copy/cin_2026.xml", _census_with_a_fault_and_a_warning())  # the same return twice
    return "returns.zip:copy/cin_2026.xml"


def _truncated(folder: Path) -> str:
    text = cin_return(2025, children=cin_child(2025, "T1") * 5)
    write(folder / "cin_census.xml", text[: len(text) - 200])
    return "cin_census.xml"


def _unsupported(folder: Path) -> str:
    shutil.copyfile(FIXTURES / "school_census.xml", folder / "looked_after.xml")
    (folder / "sen2_2021.xml.gz").write_bytes(gzip.compress(sen2_aggregate(2021).encode()))
    return "looked_after.xml"


@pytest.mark.e2e
@pytest.mark.parametrize("case", [_valid, _truncated, _unsupported])
def test_sample_csvs_plus_any_return_evaluate_every_authority_check(tmp_path, case):
    delivery = _sample_delivery(tmp_path / "delivery")
    named = case(delivery)
    con = duckdb.connect(":memory:")
    record = run_without_prefect(con, delivery, AS_AT, tmp_path / "out", load_config())
    assert set(record["checks"]) == {c.id for c in load_registry().values() if c.scope == "authority"}
    assert {c: r["status"] for c, r in record["checks"].items() if r["status"] != "EVALUATED"} == {}
    csv_tables = {p.stem for p in SAMPLE_DELIVERY.glob("*.csv")}
    assert {t: e["status"] for t, e in record["extracts"].items() if t in csv_tables and e["status"] != "LOADED"} == {}
    with (SAMPLE_DELIVERY / "ssd_person.csv").open() as handle:
        csv_people = sum(1 for _ in csv.DictReader(handle))
    assert con.execute("SELECT count(*) FROM ssd_person").fetchone()[0] >= csv_people
    refused = {r["file"]: r["reason"] for r in record["refused_files"]}
    if case is _valid:
        assert refused == {named: "same content as returns.zip:cin_2026.xml: loaded once"}
        [ledger] = record["returns"]
        assert (ledger["file"], ledger["census_year"], ledger["year_convention"]) == (
            "returns.zip:cin_2026.xml",
            2026,
            "Year = year before",
        )
        assert (ledger["records_read"], ledger["records_loaded"], ledger["records_quarantined"]) == (3, 2, 1)
        person = record["extracts"]["ssd_person"]
        assert person["file"] == "ssd_person.csv + returns.zip:cin_2026.xml"
        assert person["rows_read"] == csv_people + 3 and person["rows_loaded"] == csv_people + 2
        assert person["rows_read"] == person["rows_loaded"] + person["rows_quarantined"]
        quarantined = con.execute("SELECT file, reason FROM quarantine WHERE table_name = 'ssd_person'").fetchall()
        assert ("returns.zip:cin_2026.xml", "impossible date") in quarantined
        warnings = (tmp_path / "out" / AS_AT.isoformat() / "warnings.csv").read_text().splitlines()
        assert warnings[0] == "file,line,column,reason,raw_value"
        assert (
            "returns.zip:cin_2026.xml,1,Message/Children/Child/ChildCharacteristics/Ethnicity,unknown code,ZZZZ"
            in warnings
        )
        report = (tmp_path / "out" / AS_AT.isoformat() / "report.html").read_text()
        assert 'id="warnings"' in report and "ZZZZ" not in report  # counted; raw values stay in warnings.csv
    elif case is _truncated:
        assert refused[named].endswith(": truncated)") and record["returns"] == []
    else:
        assert refused == {
            named: "SSDA903 (children looked after) return (SSDA903): not a CIN census or SEN2 return, not used",
            "sen2_2021.xml.gz": "SEN2 2021 is the aggregate return (counts, no Persons): nothing per child to "
            "load; person-level SEN2 starts with January 2023",
        }
    assert {u["file"] for u in record["unused_files"]} == set()  # the CSV copies carry no side files
    # Every refused file is named in the report with its reason, as in run.json and the console.
    report = (tmp_path / "out" / AS_AT.isoformat() / "report.html").read_text()
    section = report[report.index('<section id="refused-files">') :]
    section = section[: section.index("</section>")]
    for file, reason in refused.items():
        assert f"<td>{html.escape(file)}</td><td>{html.escape(reason)}</td>" in section


def test_a_delivery_of_only_unusable_files_stops_with_the_reasons(tmp_path):
    write(tmp_path / "looked_after.xml", (FIXTURES / "school_census.xml").read_text())
    write(tmp_path / "cin.xml", cin_return(2025)[:300])
    con = duckdb.connect(":memory:")
    ensure_store(con)
    with pytest.raises(RunAborted) as aborted:
        stage_delivery(con, tmp_path, load_config())
    message = str(aborted.value)
    assert message.startswith(f"no usable extract or return in {tmp_path} (")
    assert "looked_after.xml: SSDA903 (children looked after) return (SSDA903)" in message
    assert "cin.xml: not well-formed XML" in message


@pytest.mark.prefect
def test_the_command_line_exits_2_with_the_reasons(tmp_path):
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    write(delivery / "looked_after.xml", (FIXTURES / "school_census.xml").read_text())
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--extracts",
            str(delivery),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
            "--out",
            str(tmp_path / "out"),
            "--as-at",
            "2026-11-24",
        ],
    )
    assert result.exit_code == 2, result.output
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert last.startswith("caseflags: no usable extract or return in ")
    assert "looked_after.xml: SSDA903 (children looked after) return (SSDA903)" in last


def test_a_refused_csv_refuses_only_its_own_table_and_the_return_still_loads_the_rest(tmp_path):
    write(tmp_path / "ssd_person.csv", "pers_person_id,pers_upn\nP1,\n")  # no pers_dob: refused
    write(tmp_path / "cin.xml", _census_with_a_fault_and_a_warning())
    con = duckdb.connect(":memory:")
    ensure_store(con)
    delivery = stage_delivery(con, tmp_path, load_config())
    assert delivery.outcomes["ssd_person"].status == "REFUSED"
    assert delivery.outcomes["ssd_person"].reason == "missing required column pers_dob"
    assert delivery.outcomes["ssd_cin_episodes"].status == "LOADED"
    assert delivery.outcomes["ssd_cin_episodes"].rows_loaded == 2
    assert [r["file"] for r in delivery.refused_files] == ["ssd_person.csv"]
