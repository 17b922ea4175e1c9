"""The SSD scripts' own habits (issue 24, parts 2-4), from the v1.4.5 scripts: full column sets
and the tables caseflags does not read, the NHS number column, unborn children, sentinel dates,
placeholder identifiers, local role codes, worker names; and a night whose table loads almost
nothing is never reported as a good one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from check_fixtures import AS_AT, add_child
from test_store_load import stage_and_publish, table_rows

from caseflags.checking.runner import run_check
from caseflags.ingest.delivery import NOT_USED_SSD_TABLE, discover_delivery
from caseflags.ingest.extracts import SENTINEL_REASON, parse_extract
from caseflags.runbook import run_without_prefect
from caseflags.settings import ConfigError, load_config
from caseflags.store.database import connect

PERSON = "pers_person_id,pers_dob,pers_expected_dob,pers_common_child_id,pers_upn"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_ssd_tables_not_read_are_named_not_used_never_refused(tmp_path):
    write(tmp_path, "ssd_cla_episodes.csv", "clae_cla_episode_id\nE1\n")
    write(tmp_path, "ssd_version_log.csv", "version_number\n1.4.5\n")
    write(tmp_path, "ssd_person.csv", "pers_person_id,pers_dob\nP1,2014-01-01\n")
    write(tmp_path, "not_a_table.csv", "a\n1\n")
    found = discover_delivery(tmp_path)
    assert {u.file: u.reason for u in found.unused} == {
        "ssd_cla_episodes.csv": NOT_USED_SSD_TABLE,
        "ssd_version_log.csv": NOT_USED_SSD_TABLE,
    }
    assert [r.file for r in found.refused] == ["not_a_table.csv"]


def test_extra_columns_listed_not_used_and_professionals_without_caseflags_columns(tmp_path):
    path = write(
        tmp_path,
        "ssd_professionals.csv",
        "prof_professional_id,prof_staff_id,prof_professional_name,prof_social_worker_registration_no,"
        "prof_agency_worker_flag,prof_professional_job_title,prof_professional_caseload,"
        "prof_professional_department,prof_full_time_equivalency\n"
        "W1,S1,Ann Worker,SW123,N,Social Worker,12,Team A,1.0\n",
    )
    parsed = parse_extract(path, "ssd_professionals")
    assert parsed.rows_loaded == 1 and parsed.quarantine.height == 0
    assert parsed.rows().select("prof_agency", "prof_practice_code").rows() == [(None, None)]
    assert parsed.unused_columns == [
        "prof_staff_id",
        "prof_social_worker_registration_no",
        "prof_agency_worker_flag",
        "prof_professional_caseload",
        "prof_professional_department",
        "prof_full_time_equivalency",
    ]


def test_nhs_number_from_pers_common_child_id_and_unborn_children_kept(tmp_path):
    path = write(
        tmp_path,
        "ssd_person.csv",
        PERSON + "\n"
        "P1,2014-01-01,,9434765919,\n"
        "P2,,2027-01-20,,\n"  # unborn: an expected date of birth only
        "P3,,,,\n",
    )  # neither: no child to speak of
    parsed = parse_extract(path, "ssd_person")
    rows = {r["pers_person_id"]: r for r in parsed.rows().iter_rows(named=True)}
    assert rows["P1"]["pers_single_unique_id"] == "9434765919"
    assert rows["P2"]["pers_dob"] is None and rows["P2"]["pers_expected_dob"] == date(2027, 1, 20)
    assert set(rows) == {"P1", "P2"}
    assert parsed.quarantine.select("line", "column_name", "reason").rows() == [
        (4, "pers_dob", "blank required value: neither pers_dob nor pers_expected_dob")
    ]
    assert "pers_common_child_id" not in parsed.unused_columns


def test_sentinel_dates_are_missing_with_a_warning(tmp_path):
    path = write(
        tmp_path,
        "ssd_cin_assessments.csv",
        "cina_assessment_id,cina_person_id,cina_assessment_start_date,cina_assessment_auth_date\n"
        "A1,P1,2026-01-05,1900-01-01 00:00:00.000\nA2,P1,2026-02-05,2026-02-20\n",
    )
    parsed = parse_extract(path, "ssd_cin_assessments")
    assert parsed.quarantine.height == 0
    assert parsed.rows().select("cina_assessment_id", "cina_assessment_auth_date").rows() == [
        ("A1", None),
        ("A2", date(2026, 2, 20)),
    ]
    assert parsed.warnings.select("line", "column_name", "reason").rows() == [
        (2, "cina_assessment_auth_date", SENTINEL_REASON)
    ]


def test_placeholder_identifiers_are_missing_not_invalid(tmp_path):
    path = write(
        tmp_path,
        "ssd_linked_identifiers.csv",
        "link_table_id,link_person_id,link_identifier_type,link_identifier_value,link_valid_from_date,"
        "link_valid_to_date\n"
        "L1,P1,Former Unique Pupil Number,SSD_PH,NULL,NULL\n"
        "L2,P1,Unique Pupil Number,NULL,NULL,NULL\n"
        "L3,P1,Unique Pupil Number,BAD,NULL,NULL\n",
    )
    parsed = parse_extract(path, "ssd_linked_identifiers")
    assert parsed.rows_loaded == 3 and parsed.quarantine.height == 0
    assert parsed.rows().get_column("link_identifier_value").to_list() == [None, None, "BAD"]
    assert parsed.identifier_issues.get_column("line").to_list() == [4]  # only the real bad value
    assert parsed.missing_literals == {
        "SSD_PH": {"link_identifier_value": 1},
        "NULL": {"link_identifier_value": 1, "link_valid_from_date": 3, "link_valid_to_date": 3},
    }


def test_local_role_codes_map_to_caseflags_roles(tmp_path):
    path = write(
        tmp_path,
        "ssd_involvements.csv",
        "invo_involvements_id,invo_professional_id,invo_professional_role_id,invo_person_id,"
        "invo_involvement_start_date\nI1,W1,AW,P1,2026-01-01\nI2,W2,cw,P1,2026-01-01\nI3,W3,KA1,P1,2026-01-01\n",
    )
    config = load_config()
    parsed = parse_extract(path, "ssd_involvements", role_codes=config.roles)
    assert parsed.rows().get_column("invo_professional_role_id").to_list() == ["CW", "cw", "KA1"]
    custom = tmp_path / "local.toml"
    custom.write_text('[roles]\n"KA1" = "CW"\n')
    parsed = parse_extract(path, "ssd_involvements", role_codes=load_config(custom).roles)
    assert parsed.rows().get_column("invo_professional_role_id").to_list() == ["CW", "cw", "CW"]
    custom.write_text('[roles]\n"KA1" = "social worker"\n')
    with pytest.raises(ConfigError, match="roles.KA1"):
        load_config(custom)


def test_worker_name_in_a_worker_id_column_is_recognised(tmp_path):
    path = write(
        tmp_path,
        "ssd_cin_episodes.csv",
        "cine_referral_id,cine_person_id,cine_referral_date,cine_referral_worker_id\n"
        "R1,P1,2026-01-01,Jane Smith\nR2,P1,2026-02-01,W123\nR3,P1,2026-03-01,NULL\n",
    )
    parsed = parse_extract(path, "ssd_cin_episodes")
    assert parsed.worker_names == {"cine_referral_worker_id": 1}
    assert parsed.rows().get_column("cine_referral_worker_id").to_list() == [None, "W123", None]


def test_unborn_child_is_a_pre_birth_case_not_an_error(store):
    add_child(store, "U1", None, cin_from=date(2026, 10, 1))
    store.execute("UPDATE ssd_person SET pers_expected_dob = DATE '2027-01-20' WHERE pers_person_id = 'U1'")
    add_child(store, "B1", date(2014, 5, 1), cin_from=date(2026, 10, 1))
    for check_id in ("GP_NOT_KNOWN", "VOICE_OF_CHILD_ABSENT", "IDENTITY_UNMATCHED"):
        people = {r["person_id"] for r in run_check(store, check_id, AS_AT)}
        assert "U1" not in people, check_id
    assert "B1" in {r["person_id"] for r in run_check(store, "GP_NOT_KNOWN", AS_AT)}
    assert "U1" in {r["person_id"] for r in run_check(store, "SOCIAL_WORKER_UNALLOCATED", AS_AT)}


# --- never a worthless night reported as a good one ---------------------------------------------


def test_a_table_that_loads_almost_nothing_is_refused_and_previous_data_stays(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    good = tmp_path / "d1"
    write(good, "ssd_person.csv", "pers_person_id,pers_dob\nP1,2014-01-01\nP2,2015-01-01\nP3,2016-01-01\n")
    stage_and_publish(con, good, date(2026, 11, 1), tmp_path / "out")
    bad = tmp_path / "d2"
    write(bad, "ssd_person.csv", "pers_person_id,pers_dob\nP1,2014-01-01\nP2,nonsense\nP3,nonsense\n")
    state = stage_and_publish(con, bad, date(2026, 11, 2), tmp_path / "out")
    outcome = state.extracts["ssd_person"]
    assert outcome.status == "REFUSED" and outcome.reason.startswith("untrustworthy: only 1 of 3 rows loaded")
    assert outcome.stale is True
    assert [r[0] for r in table_rows(con, "ssd_person")] == ["P1", "P2", "P3"]
    (entry,) = outcome.ledger
    assert (entry["read"], entry["loaded"], entry["quarantined"], entry["withheld"], entry["balanced"]) == (
        3,
        0,
        2,
        1,
        True,
    )
    assert state.unavailable_tables()["ssd_person"].startswith("refused: untrustworthy")


@pytest.mark.e2e  # whole nights
def test_first_night_whose_ssd_person_loads_no_one_is_never_all_evaluated(tmp_path):
    folder = tmp_path / "d"
    write(folder, "ssd_person.csv", "pers_person_id,pers_dob\nP1,NOT A DATE\nP2,NOT A DATE\n")
    write(folder, "ssd_cin_plans.csv", "cinp_cin_plan_id,cinp_person_id,cinp_cin_plan_start_date\nC1,P1,2026-01-01\n")
    db = tmp_path / "store.duckdb"
    con = connect(db)
    try:
        record = run_without_prefect(con, folder, AS_AT, tmp_path / "reports", load_config(), db_path=db)
    finally:
        con.close()
    assert record["extracts"]["ssd_person"]["status"] == "REFUSED"
    statuses = {c["status"] for c in record["checks"].values()}
    assert "NOT_EVALUATED" in statuses
    report = (tmp_path / "reports" / AS_AT.isoformat() / "report.html").read_text()
    assert 'id="headline-untrustworthy"' in report and "ssd_person" in report
    from caseflags import cli

    with cli.console.capture() as captured:
        cli._print_run_summary(tmp_path / "reports" / AS_AT.isoformat())
    assert "NOT A GOOD NIGHT ssd_person refused: untrustworthy: only 0 of 2 rows loaded" in " ".join(
        captured.get().split()
    )


def test_unborn_child_in_the_cin_census_is_kept_with_its_expected_date_of_birth(tmp_path):
    from returns_builder import cin_child, cin_return

    unborn = cin_child(2025, "U1", sex="U").replace(
        "<PersonBirthDate>2012-05-06</PersonBirthDate>", "<ExpectedPersonBirthDate>2025-06-01</ExpectedPersonBirthDate>"
    )
    neither = cin_child(2025, "N1").replace("<PersonBirthDate>2012-05-06</PersonBirthDate>", "")
    folder = tmp_path / "d"
    write(
        folder, "cin_census.xml", cin_return(2025, children="\n".join(["", cin_child(2025, "B1"), unborn, neither, ""]))
    )
    con = connect(tmp_path / "store.duckdb")
    state = stage_and_publish(con, folder, date(2025, 3, 31), tmp_path / "out")
    people = con.execute("SELECT pers_person_id, pers_dob, pers_expected_dob FROM ssd_person ORDER BY 1").fetchall()
    assert people == [("B1", date(2012, 5, 6), None), ("U1", None, date(2025, 6, 1))]
    reasons = con.execute("SELECT column_name, reason FROM quarantine WHERE table_name = 'ssd_person'").fetchall()
    assert reasons == [("pers_dob", "blank required value: neither pers_dob nor pers_expected_dob")]
    assert state.extracts["ssd_person"].status == "LOADED"


@pytest.mark.e2e  # whole nights
def test_an_unborn_child_loads_then_links_once_born(tmp_path):
    """Night 1: a pre-birth case (no date of birth, no NHS number) loads and the run completes;
    night 2: the child is born (date of birth and NHS number given) and links to the GP record."""
    db = tmp_path / "store.duckdb"
    gp = (
        "agency,agency_record_id,nhs_number,upn,la_person_id,forename,surname,dob,sex,postcode\n"
        "GP,GP-9,9434765919,,,Baby,Smith,2026-11-02,F,BS1 1AA\n"
    )
    plans = "cinp_cin_plan_id,cinp_person_id,cinp_cin_plan_start_date\nC1,U1,2026-09-01\n"

    def night(as_at: date, person: str) -> tuple[dict, list]:
        folder = tmp_path / as_at.isoformat()
        write(folder, "ssd_person.csv", person)
        write(folder, "ssd_cin_plans.csv", plans)
        write(folder, "agency_records.csv", gp)
        con = connect(db)
        try:
            record = run_without_prefect(con, folder, as_at, tmp_path / "reports", load_config(), db_path=db)
            links = con.execute(
                "SELECT agency, agency_record_id FROM person_links WHERE person_id = 'U1' AND agency <> 'SOCIAL_CARE'"
            ).fetchall()
        finally:
            con.close()
        return record, links

    record, links = night(
        date(2026, 10, 1),
        "pers_person_id,pers_forename,pers_surname,pers_dob,pers_expected_dob,"
        "pers_single_unique_id\nU1,,Smith,,2026-11-02,\n",
    )
    assert record["status"] == "COMPLETED" and record["extracts"]["ssd_person"]["rows_loaded"] == 1
    assert links == []
    record, links = night(
        date(2026, 11, 24),
        "pers_person_id,pers_forename,pers_surname,pers_dob,pers_expected_dob,"
        "pers_single_unique_id\nU1,Baby,Smith,2026-11-02,2026-11-02,9434765919\n",
    )
    assert record["status"] == "COMPLETED"
    assert links == [("GP", "GP-9")]


def test_min_loaded_fraction_is_range_checked(tmp_path):
    custom = tmp_path / "c.toml"
    custom.write_text("[ingest]\nmin_loaded_fraction = 1.5\n")
    with pytest.raises(ConfigError, match="min_loaded_fraction"):
        load_config(custom)
