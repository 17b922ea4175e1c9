"""A child given by a CSV and a CIN census, or by two census years, under the same LA id: one
child when the sources agree (UPN and date of birth confirm it; the census has no names); when
they disagree, the child and every row that depends on it are quarantined naming the column,
and the ledger (read = loaded + quarantined, per file) stays true, in run.json's returns too."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from returns_builder import cin_child, cin_return, sen2_person, sen2_return, write

from caseflags.ingest.stage import stage_delivery
from caseflags.settings import load_config
from caseflags.store.database import ensure_store
from caseflags.store.publish import STAGED_PREFIX

PERSON_HEADER = "pers_person_id,pers_upn,pers_single_unique_id,pers_forename,pers_surname,pers_dob,pers_sex\n"


def _one_child_config(folder: Path):
    """These fixtures hold one or two children, so quarantining one child is most of ssd_person;
    the untrustworthy-table rule (ingest.min_loaded_fraction, tested in test_ssd_habits.py) is
    set aside so the merge and conflict rules are seen alone."""
    path = folder.parent / f"{folder.name}-config.toml"
    path.write_text("[ingest]\nmin_loaded_fraction = 0\n")
    return load_config(path)


def _stage(folder: Path):
    con = duckdb.connect(":memory:")
    ensure_store(con)
    return con, stage_delivery(con, folder, _one_child_config(folder))


def _rows(con, table: str, columns: str) -> list[tuple]:
    return con.execute(f'SELECT {columns} FROM "{STAGED_PREFIX}{table}" ORDER BY ALL').fetchall()


def _ledger(delivery, table: str) -> dict[str, tuple]:
    return {
        e["file"]: (e["read"], e["loaded"], e["quarantined"], e["balanced"]) for e in delivery.outcomes[table].ledger
    }


def _quarantined(delivery) -> list[tuple]:
    rows = []
    for frame in delivery.staged.quarantine:
        rows += frame.select("table_name", "file", "column_name").rows()
    return sorted(rows)


def test_a_csv_person_and_a_census_child_with_the_same_la_id_are_one_child(tmp_path):
    write(tmp_path / "ssd_person.csv", PERSON_HEADER + "C1,A803123424001,9434765919,Ann,Lee,2012-05-06,\n")
    write(
        tmp_path / "cin.xml", cin_return(2026, children=cin_child(2026, "C1", extra_ids="<UPNunknown>UN1</UPNunknown>"))
    )
    con, delivery = _stage(tmp_path)
    # Names and NHS number from the CSV, sex from the census: one child.
    assert _rows(
        con, "ssd_person", "pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_dob::VARCHAR, pers_sex"
    ) == [("C1", "A803123424001", "9434765919", "Ann", "2012-05-06", "F")]
    assert _quarantined(delivery) == []
    assert _ledger(delivery, "ssd_person") == {"ssd_person.csv": (1, 1, 0, True), "cin.xml": (1, 1, 0, True)}
    assert delivery.outcomes["ssd_person"].rows_read == 2
    assert delivery.outcomes["ssd_person"].rows_loaded + delivery.outcomes["ssd_person"].rows_quarantined == 2
    [census] = delivery.returns
    assert (
        census["records_read"],
        census["records_loaded"],
        census["records_quarantined"],
        census["records_merged"],
    ) == (1, 1, 0, 1)
    assert _rows(con, "ssd_cin_episodes", "cine_person_id") == [("C1",)]


def test_two_census_years_of_the_same_child_are_one_child_with_the_later_state(tmp_path):
    open_2025 = (
        cin_child(2025, "C1")
        .replace("<CINclosureDate>2019-12-01</CINclosureDate>", "")
        .replace("<ReasonForClosure>RC9</ReasonForClosure>", "")
    )
    former = "<FormerUPN>A803123424002</FormerUPN>"
    open_2025 = open_2025.replace("</PersonBirthDate>", "</PersonBirthDate>" + former)
    write(tmp_path / "cin_2025.xml", cin_return(2025, children=open_2025))
    write(
        tmp_path / "cin_2026.xml",
        cin_return(2026, children=cin_child(2026, "C1").replace("</PersonBirthDate>", "</PersonBirthDate>" + former)),
    )
    con, delivery = _stage(tmp_path)
    assert _rows(con, "ssd_person", "pers_person_id") == [("C1",)]
    assert _rows(con, "ssd_linked_identifiers", "link_person_id, link_identifier_value") == [("C1", "A803123424002")]
    # The episode open at 31 March 2025 is closed in the 2025-26 census: the later state is kept.
    assert _rows(con, "ssd_cin_episodes", "cine_referral_id, cine_close_date::VARCHAR, cine_close_reason") == [
        ("C1/2019-10-01", "2019-12-01", "RC9")
    ]
    assert _quarantined(delivery) == []
    for table in ("ssd_person", "ssd_cin_episodes", "ssd_cin_assessments", "ssd_cin_plans", "ssd_linked_identifiers"):
        assert _ledger(delivery, table) == {"cin_2025.xml": (1, 1, 0, True), "cin_2026.xml": (1, 1, 0, True)}, table
    assert {
        r["file"]: (r["records_read"], r["records_loaded"], r["records_quarantined"]) for r in delivery.returns
    } == {"cin_2025.xml": (1, 1, 0), "cin_2026.xml": (1, 1, 0)}


@pytest.mark.parametrize(
    "csv_row, column",
    [
        ("C1,A803123424001,,Ann,Lee,2012-05-07,F", "pers_dob"),
        ("C1,A803123425001,,Ann,Lee,2012-05-06,F", "pers_upn"),
    ],
)
def test_a_csv_and_a_census_that_disagree_quarantine_the_child_and_its_rows_naming_the_column(
    tmp_path, csv_row, column
):
    write(tmp_path / "ssd_person.csv", PERSON_HEADER + csv_row + "\nC2,,,Bo,Ray,2015-01-01,M\n")
    write(
        tmp_path / "ssd_cin_visits.csv",
        "cinv_cin_visit_id,cinv_person_id,cinv_cin_visit_date\nV1,C1,2019-11-01\nV2,C2,2019-11-01\n",
    )
    write(tmp_path / "cin.xml", cin_return(2026, children=cin_child(2026, "C1") + cin_child(2026, "C3")))
    con, delivery = _stage(tmp_path)
    assert _rows(con, "ssd_person", "pers_person_id") == [("C2",), ("C3",)]
    quarantined = _quarantined(delivery)
    assert ("ssd_person", "ssd_person.csv", column) in quarantined and ("ssd_person", "cin.xml", column) in quarantined
    reasons = [r for f in delivery.staged.quarantine for r in f.filter(f["table_name"] == "ssd_person")["reason"]]
    assert all("ssd_person.csv line 2" in r or "cin.xml line 1" in r for r in reasons)
    # Everything that hangs on the child goes with it, from the census and from the CSV alike.
    assert ("ssd_cin_episodes", "cin.xml", "cine_person_id") in quarantined
    assert ("ssd_cin_assessments", "cin.xml", "cina_person_id") in quarantined
    assert ("ssd_assessment_factors", "cin.xml", "cinf_assessment_id") in quarantined
    assert ("ssd_cin_plans", "cin.xml", "cinp_person_id") in quarantined
    assert ("ssd_cin_visits", "ssd_cin_visits.csv", "cinv_person_id") in quarantined
    for table, column_ in (
        ("ssd_cin_episodes", "cine_person_id"),
        ("ssd_cin_assessments", "cina_person_id"),
        ("ssd_cin_plans", "cinp_person_id"),
        ("ssd_cin_visits", "cinv_person_id"),
    ):
        assert "C1" not in {p for (p,) in _rows(con, table, column_)}, table
    assert _rows(con, "ssd_assessment_factors", "cinf_assessment_id") == [("C3/2019-10-01/A/2019-10-02",)]
    assert _ledger(delivery, "ssd_person") == {"ssd_person.csv": (2, 1, 1, True), "cin.xml": (2, 1, 1, True)}
    assert _ledger(delivery, "ssd_cin_episodes") == {"cin.xml": (2, 1, 1, True)}
    assert _ledger(delivery, "ssd_cin_visits") == {"ssd_cin_visits.csv": (2, 1, 1, True)}
    [census] = delivery.returns
    assert (census["records_read"], census["records_loaded"], census["records_quarantined"]) == (2, 1, 1)


def test_two_census_years_that_disagree_on_the_date_of_birth_quarantine_the_child(tmp_path):
    write(
        tmp_path / "cin_2025.xml", cin_return(2025, children=cin_child(2025, "C1").replace("2012-05-06", "2012-06-05"))
    )
    write(tmp_path / "cin_2026.xml", cin_return(2026, children=cin_child(2026, "C1")))
    con, delivery = _stage(tmp_path)
    assert _rows(con, "ssd_person", "pers_person_id") == []
    assert _rows(con, "ssd_cin_episodes", "cine_person_id") == []
    assert ("ssd_person", "cin_2025.xml", "pers_dob") in _quarantined(delivery)
    assert _ledger(delivery, "ssd_cin_episodes") == {"cin_2025.xml": (1, 0, 1, True), "cin_2026.xml": (1, 0, 1, True)}
    assert {r["file"]: (r["records_loaded"], r["records_quarantined"]) for r in delivery.returns} == {
        "cin_2025.xml": (0, 1),
        "cin_2026.xml": (0, 1),
    }


def test_a_sex_not_known_in_one_census_gives_way_to_the_known_one(tmp_path):
    write(tmp_path / "cin_2024.xml", cin_return(2024, children=cin_child(2024, "C1", sex="U")))  # GenderCurrent 0
    write(tmp_path / "cin_2025.xml", cin_return(2025, children=cin_child(2025, "C1", sex="M")))
    con, delivery = _stage(tmp_path)
    assert _rows(con, "ssd_person", "pers_person_id, pers_sex") == [("C1", "M")]
    assert _quarantined(delivery) == []


@pytest.mark.e2e  # a whole night
def test_run_json_and_the_console_count_a_child_quarantined_for_disagreeing_sources(tmp_path, capsys):
    from datetime import date

    from caseflags import cli
    from caseflags.runbook import run_without_prefect

    delivery = tmp_path / "delivery"
    delivery.mkdir()
    write(delivery / "ssd_person.csv", PERSON_HEADER + "C1,A803123424001,,Ann,Lee,2012-05-07,F\n")
    write(delivery / "cin.xml", cin_return(2026, children=cin_child(2026, "C1") + cin_child(2026, "C3")))
    record = run_without_prefect(
        duckdb.connect(":memory:"), delivery, date(2026, 4, 30), tmp_path / "out", _one_child_config(delivery)
    )
    [census] = record["returns"]
    assert (census["records_read"], census["records_loaded"], census["records_quarantined"]) == (2, 1, 1)
    assert record["ledger_balanced"] is True
    assert all(e["balanced"] for e in record["ledger"])
    cli._print_run_summary(tmp_path / "out" / "2026-04-30")
    printed = " ".join(capsys.readouterr().out.split())
    assert "return cin.xml (CIN 2026): 2 read, 1 loaded, 1 quarantined" in printed


def test_two_sen2_years_of_the_same_person_keep_the_later_record(tmp_path):
    write(tmp_path / "sen2_2025.xml", sen2_return(2025))
    write(tmp_path / "sen2_2026.xml", sen2_return(2026, persons=sen2_person().replace("BS1 1AA", "BS2 2BB")))
    con, delivery = _stage(tmp_path)
    assert _rows(con, "agency_records", "agency_record_id, postcode") == [("SEN2-A803123424001", "BS2 2BB")]
    assert _rows(con, "ehcp_plans", "ehcp_id") == [("SEN2-A803123424001/2022-05-20",)]
    assert _quarantined(delivery) == []
    for table in ("agency_records", "ehcp_plans"):
        assert _ledger(delivery, table) == {"sen2_2025.xml": (1, 1, 0, True), "sen2_2026.xml": (1, 1, 0, True)}, table
