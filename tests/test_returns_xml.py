"""CIN census and SEN2 XML: recognition by content, mapping, validation quarantine, safe parsing,
and the writer that turns a CSV delivery into returns."""

from __future__ import annotations

import csv
import resource
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.extracts import parse_frame
from caseflags.ingest.returns.reader import ReturnRefused, detect_return, read_return
from caseflags.sample_data.returns_writer import write_returns

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "returns"
SECRET_MARKER = "CASEFLAGS-SECRET-MARKER-7f3a"


def fixture(tmp_path: Path, name: str, as_name: str | None = None) -> Path:
    """A copy in a temporary delivery folder (the file name must not matter)."""
    target = tmp_path / (as_name or name)
    shutil.copyfile(FIXTURES / name, target)
    return target


def typed(extract, table: str) -> pl.DataFrame:
    """The lead's parser over the returned text frame must find nothing more to quarantine."""
    frame, problems = parse_frame(extract.tables[table], load_contract()[table])
    assert problems.height == 0, problems
    return frame


# --- recognition -------------------------------------------------------------------------------


def test_returns_are_recognised_by_content_whatever_the_file_name(tmp_path):
    assert detect_return(fixture(tmp_path, "cin_valid.xml", "export_from_mosaic.xml")) == "CIN"
    assert detect_return(fixture(tmp_path, "sen2_valid.xml", "ehcp.dat")) == "SEN2"
    assert detect_return(fixture(tmp_path, "school_census.xml")) is None
    (tmp_path / "notes.xml").write_text("<notes><n>hello</n></notes>")
    assert detect_return(tmp_path / "notes.xml") is None
    (tmp_path / "empty.xml").write_bytes(b"")
    assert detect_return(tmp_path / "empty.xml") is None


def test_detection_reads_only_the_start_of_the_file(tmp_path):
    path = fixture(tmp_path, "cin_valid.xml")
    text = path.read_text()
    # A broken tail far beyond the header does not change what the header says.
    path.write_text(text.replace("</Message>", "<Padding>" + "x" * 200_000 + "</Broken>"))
    assert detect_return(path) == "CIN"


# --- mapping -----------------------------------------------------------------------------------


def test_cin_census_maps_to_the_ssd_tables(tmp_path):
    extract = read_return(fixture(tmp_path, "cin_valid.xml"))
    assert (extract.collection, extract.year, extract.records_read) == ("CIN", 2025, 2)
    assert extract.quarantine == []
    assert set(extract.tables) == {
        "ssd_person",
        "ssd_disability",
        "ssd_cin_episodes",
        "ssd_cin_assessments",
        "ssd_assessment_factors",
        "ssd_cin_plans",
        "ssd_s47_enquiry",
        "ssd_initial_cp_conference",
        "ssd_linked_identifiers",
        "cin_pre_proceedings",
    }
    for table, frame in extract.tables.items():
        assert frame.columns == ["_line", *load_contract()[table].column_names]

    people = typed(extract, "ssd_person").sort("pers_person_id")
    assert people["pers_person_id"].to_list() == ["C001", "C002"]
    assert people["pers_upn"].to_list() == ["J803123424001", None]
    assert people["pers_dob"].to_list() == [date(2012, 5, 6), date(2019, 1, 31)]
    assert people["pers_sex"].to_list() == ["F", "M"]  # Sex F; GenderCurrent 1 = male
    assert people["_line"].to_list() == [19, 56]  # the Child element's line

    assert typed(extract, "ssd_disability")["disa_disability_code"].to_list() == ["COMM", "AUT"]
    episodes = typed(extract, "ssd_cin_episodes").sort("cine_person_id")
    assert episodes["cine_referral_id"].to_list() == ["C001/2024-09-02", "C002/2024-06-01"]
    assert episodes["cine_close_reason"].to_list() == [None, "RC8"]
    assessment = typed(extract, "ssd_cin_assessments").row(0, named=True)
    assert assessment["cina_assessment_id"] == "C001/2024-09-02/A/2024-09-03"
    assert assessment["cina_referral_id"] == "C001/2024-09-02"
    assert assessment["cina_assessment_auth_date"] == date(2024, 10, 20)
    factors = typed(extract, "ssd_assessment_factors").row(0, named=True)
    assert factors["cinf_assessment_factors_json"] == ["4A", "15A"]
    plan = typed(extract, "ssd_cin_plans").row(0, named=True)
    assert (plan["cinp_cin_plan_id"], plan["cinp_cin_plan_start_date"]) == (
        "C001/2024-09-02/P/2024-10-25",
        date(2024, 10, 25),
    )
    s47 = typed(extract, "ssd_s47_enquiry").sort("s47e_person_id")
    assert s47["s47e_s47_nfa"].to_list() == [False, True]  # ICPCnotRequired false / true
    icpc = typed(extract, "ssd_initial_cp_conference").row(0, named=True)
    assert icpc["icpc_s47_enquiry_id"] == s47["s47e_s47_enquiry_id"][0]
    assert (icpc["icpc_icpc_target_date"], icpc["icpc_icpc_date"]) == (date(2024, 10, 1), None)


def test_derived_ids_are_stable_between_reads(tmp_path):
    first = read_return(fixture(tmp_path, "cin_valid.xml"))
    second = read_return(fixture(tmp_path, "cin_valid.xml", "again.xml"))
    for table in first.tables:
        assert first.tables[table].equals(second.tables[table])


def test_sen2_maps_to_education_records_and_ehcp_plans(tmp_path):
    extract = read_return(fixture(tmp_path, "sen2_valid.xml"))
    assert (extract.collection, extract.year, extract.records_read) == ("SEN2", 2025, 2)
    records = typed(extract, "agency_records")
    assert records["agency"].to_list() == ["EDUCATION", "EDUCATION"]
    assert records["agency_record_id"].to_list() == ["SEN2-J803123424001", "SEN2-R803987622010"]
    assert records["postcode"].to_list() == ["BS1 1AA", "BS2 2BB"]
    plans = typed(extract, "ehcp_plans")
    assert plans.height == 1  # the second person's request has no plan yet
    plan = plans.row(0, named=True)
    assert plan["upn"] == "J803123424001"
    assert plan["named_plan_start_date"] == date(2022, 5, 20)
    assert plan["last_review_date"] == date(2024, 11, 4)
    assert plan["school_urn"] == "123456"  # the active placement, not the plan as first named


# --- validation quarantine ---------------------------------------------------------------------


def test_faulty_children_are_quarantined_and_the_rest_loads(tmp_path):
    extract = read_return(fixture(tmp_path, "cin_faults.xml"))
    assert extract.records_read == 7
    # Stray text and an unknown primary need touch nothing a check, linkage or key uses: the
    # children load and the problems are data-quality warnings.
    assert typed(extract, "ssd_person")["pers_person_id"].to_list() == ["GOOD1", "STRAY", "BADCODE", "GOOD2"]
    found = {(q["line"], q["column_name"], q["reason"]) for q in extract.quarantine}
    child = "Message/Children/Child"
    assert found == {
        (56, f"{child}/ChildIdentifiers/PersonBirthDate", "impossible date"),
        (73, f"{child}/CINdetails/CINreferralDate", "mandatory element CINreferralDate missing"),
        (78, child, "duplicated child, same LAchildID: first given at line 11"),
    }
    warned = {(w["line"], w["column_name"], w["reason"], w["raw_value"]) for w in extract.warnings}
    assert warned == {
        (34, f"{child}/CINdetails", "unexpected text between elements", "stray words typed into the export"),
        (49, f"{child}/CINdetails/PrimaryNeedCode", "unknown code", "N12"),
    }
    assert extract.records_quarantined == 3
    raw = {q["raw_line"] for q in extract.quarantine}
    assert "Message/Children/Child at line 53, LAchildID BADDATE" in raw
    # The unknown primary need is left empty in the typed column, the episode still loads.
    episodes = typed(extract, "ssd_cin_episodes")
    assert episodes.filter(pl.col("cine_person_id") == "BADCODE")["cine_cin_primary_need_code"].to_list() == [None]
    # The duplicate keeps the first occurrence: GOOD1's episode is the May one, not July's.
    assert episodes.filter(pl.col("cine_person_id") == "GOOD1")["cine_referral_date"].to_list() == [date(2025, 5, 1)]


@pytest.mark.parametrize(
    "element, value, reason",
    [
        (
            "<CINreferralDate>2024-09-02</CINreferralDate>",
            "<CINreferralDate>02/09/2024</CINreferralDate>",
            "not a date in YYYY-MM-DD form",
        ),
        ("<LAchildID>C001</LAchildID>", "<LAchildID> </LAchildID>", "mandatory element is empty"),
        ("<UPN>J803123424001</UPN>", "<UPN><Part>J</Part></UPN>", "UPN must hold a value, not elements"),
        ("<Sex>F</Sex>", "<Sex>X</Sex>", "unknown code"),
        ("<ICPCnotRequired>false</ICPCnotRequired>", "<ICPCnotRequired>maybe</ICPCnotRequired>", "unknown code"),
        (
            "<PersonBirthDate>2012-05-06</PersonBirthDate>",
            "<PersonBirthDate>2012-05-06</PersonBirthDate><PersonDeathDate>2024-13-01</PersonDeathDate>",
            "impossible date",
        ),
    ],
)
def test_a_bad_value_that_something_depends_on_quarantines_only_that_child(tmp_path, element, value, reason):
    text = (FIXTURES / "cin_valid.xml").read_text()
    assert element in text
    path = tmp_path / "cin.xml"
    path.write_text(text.replace(element, value, 1))
    extract = read_return(path)
    assert [q["reason"] for q in extract.quarantine] == [reason]
    assert extract.tables["ssd_person"]["pers_person_id"].to_list() == ["C002"]


@pytest.mark.parametrize(
    "element, value, reason",
    [
        ("<ReferralNFA>false</ReferralNFA>", "<ReferralNFA>no</ReferralNFA>", "unknown code"),
        ("<Disability>COMM</Disability>", "<Disability>SIGHT</Disability>", "unknown code"),
        ("<AssessmentFactors>15A</AssessmentFactors>", "<AssessmentFactors>15Z</AssessmentFactors>", "unknown code"),
        (
            "<Sex>F</Sex>",
            "<Sex>F</Sex><GenderCurrent>2</GenderCurrent>",
            "exactly one of GenderCurrent or Sex is required",
        ),
        ("<Sex>F</Sex>", "", "exactly one of GenderCurrent or Sex is required"),
        (
            "<Ethnicity>WBRI</Ethnicity>",
            "<Ethnicity>WBRI</Ethnicity><Ethnicity>WBRI</Ethnicity>",
            "Ethnicity given 2 times (at most 1)",
        ),
        ("<Ethnicity>WBRI</Ethnicity>", "<Ethnicity>ZZZZ</Ethnicity>", "unknown code"),
        ("<ReferralSource>2A</ReferralSource>", "", "mandatory element ReferralSource missing"),
    ],
)
def test_a_bad_value_nothing_depends_on_is_a_warning_and_the_child_loads(tmp_path, element, value, reason):
    text = (FIXTURES / "cin_valid.xml").read_text()
    assert element in text
    path = tmp_path / "cin.xml"
    path.write_text(text.replace(element, value, 1))
    extract = read_return(path)
    assert extract.quarantine == []
    assert [w["reason"] for w in extract.warnings] == [reason]
    assert all(w["line"] and w["column_name"].startswith("Message/Children/Child") for w in extract.warnings)
    assert sorted(extract.tables["ssd_person"]["pers_person_id"].to_list()) == ["C001", "C002"]
    for table in extract.tables:  # nothing the contract typing would reject reaches the tables
        typed(extract, table)


def test_a_bad_upn_check_letter_loads_for_the_identifier_check(tmp_path):
    """The contract keeps a row with an invalid UPN and reports it; it is not quarantined."""
    text = (FIXTURES / "cin_valid.xml").read_text().replace("J803123424001", "A803123424001")
    path = tmp_path / "cin.xml"
    path.write_text(text)
    extract = read_return(path)
    assert extract.quarantine == []
    assert "A803123424001" in extract.tables["ssd_person"]["pers_upn"].to_list()


def test_unknown_elements_of_a_later_year_are_ignored(tmp_path):
    text = (
        (FIXTURES / "cin_valid.xml")
        .read_text()
        .replace(
            "<ReferralNFA>false</ReferralNFA>",
            "<ReferralNFA>false</ReferralNFA><FamilyHelp><Start>x</Start></FamilyHelp>",
            1,
        )
    )
    path = tmp_path / "cin.xml"
    path.write_text(text)
    assert read_return(path).quarantine == []


def test_stray_text_outside_any_child_is_reported_and_children_still_load(tmp_path):
    text = (FIXTURES / "cin_valid.xml").read_text().replace("<Children>", "<Children>\n    oops", 1)
    path = tmp_path / "cin.xml"
    path.write_text(text)
    extract = read_return(path)
    assert extract.quarantine == []
    assert [(w["line"], w["column_name"], w["reason"], w["raw_value"]) for w in extract.warnings] == [
        (19, "Message/Children", "unexpected text between elements", "oops")
    ]
    assert extract.tables["ssd_person"].height == 2


def test_sen2_plan_without_upn_and_duplicate_person_are_quarantined(tmp_path):
    text = (FIXTURES / "sen2_valid.xml").read_text()
    first_person = text[text.index("<Person>") : text.index("</Person>") + len("</Person>")]
    without_upn = first_person.replace("<UPN>J803123424001</UPN>", "<UPNunknown>UN2</UPNunknown>")
    path = tmp_path / "sen2.xml"
    path.write_text(text.replace("</Persons>", first_person + without_upn + "</Persons>"))
    extract = read_return(path)
    reasons = sorted(q["reason"] for q in extract.quarantine)
    assert reasons == [
        "an EHC plan cannot be loaded without a UPN",
        "duplicated person, same UPN (or name and birth date): first given at line 21",
    ]
    assert extract.tables["agency_records"].height == 2
    assert extract.tables["ehcp_plans"].height == 1


# --- refusals and safety -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, reason",
    [
        ("billion_laughs.xml", "a DOCTYPE or entity declaration is not allowed in a return"),
        ("external_entity.xml", "a DOCTYPE or entity declaration is not allowed in a return"),
        ("school_census.xml", "SSDA903 (children looked after) return (SSDA903), not a CIN census or SEN2 return"),
        ("not_well_formed.xml", "not well-formed XML: mismatched tag at line 13"),
    ],
)
def test_unsafe_broken_or_foreign_files_are_refused_by_name(tmp_path, name, reason):
    path = fixture(tmp_path, name)
    with pytest.raises(ReturnRefused) as refused:
        read_return(path)
    assert isinstance(refused.value, ExtractRefused)  # the lead's ingest handles it like any refusal
    assert (refused.value.file, refused.value.reason) == (name, reason)


def test_entity_bomb_is_refused_quickly_without_expanding(tmp_path):
    path = fixture(tmp_path, "billion_laughs.xml")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ReturnRefused):
        read_return(path)
    assert detect_return(path) is None
    # A billion laughs expanded would need gigabytes; refusing it costs nothing measurable.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000


def test_external_entity_is_never_read(tmp_path):
    path = fixture(tmp_path, "external_entity.xml")
    shutil.copyfile(FIXTURES / "secret.txt", tmp_path / "secret.txt")
    assert SECRET_MARKER in (tmp_path / "secret.txt").read_text()
    with pytest.raises(ReturnRefused) as refused:
        read_return(path)
    assert SECRET_MARKER not in str(refused.value)
    assert detect_return(path) is None


def test_undeclared_entity_reference_is_not_well_formed(tmp_path):
    text = (FIXTURES / "cin_valid.xml").read_text().replace("C001", "&secret;", 1)
    path = tmp_path / "cin.xml"
    path.write_text(text)
    with pytest.raises(ReturnRefused, match="undefined entity"):
        read_return(path)


def test_a_doctype_without_entities_is_also_refused(tmp_path):
    text = (
        (FIXTURES / "cin_valid.xml")
        .read_text()
        .replace("<Message>", '<!DOCTYPE Message SYSTEM "http://example.invalid/cin.dtd">\n<Message>', 1)
    )
    path = tmp_path / "cin.xml"
    path.write_text(text)
    with pytest.raises(ReturnRefused, match="DOCTYPE"):
        read_return(path)


# --- writer --------------------------------------------------------------------------------


def write_csv(folder: Path, table: str, rows: list[dict]) -> None:
    columns = load_contract()[table].column_names
    with (folder / f"{table}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def test_writer_turns_a_csv_delivery_into_returns_that_read_back(tmp_path):
    csv_dir, out = tmp_path / "csv", tmp_path / "returns"
    csv_dir.mkdir()
    write_csv(
        csv_dir,
        "ssd_person",
        [
            {
                "pers_person_id": "P1",
                "pers_upn": "J803123424001",
                "pers_single_unique_id": "9434765919",
                "pers_forename": "Ann",
                "pers_dob": "06/05/2012",
                "pers_sex": "F",
                "pers_send_flag": "Y",
            },
            {"pers_person_id": "P2", "pers_dob": "2019-01-31", "pers_sex": "M"},  # no episode
        ],
    )
    write_csv(csv_dir, "ssd_disability", [{"disa_person_id": "P1", "disa_disability_code": "COMM"}])
    write_csv(
        csv_dir,
        "ssd_cin_episodes",
        [
            {
                "cine_referral_id": "R1",
                "cine_person_id": "P1",
                "cine_referral_date": "2024-09-02",
                "cine_cin_primary_need_code": "N2",
            }
        ],
    )
    write_csv(
        csv_dir,
        "ssd_cin_assessments",
        [
            {
                "cina_assessment_id": "A1",
                "cina_person_id": "P1",
                "cina_referral_id": "R1",
                "cina_assessment_start_date": "2024-09-03",
            }
        ],
    )
    write_csv(
        csv_dir,
        "ssd_assessment_factors",
        [{"cinf_assessment_id": "A1", "cinf_assessment_factors_json": '["15A","4A"]'}],
    )
    write_csv(
        csv_dir,
        "ssd_cin_plans",
        [{"cinp_cin_plan_id": "PL1", "cinp_person_id": "P1", "cinp_cin_plan_start_date": "2024-10-25"}],
    )  # no referral id
    write_csv(
        csv_dir,
        "ssd_s47_enquiry",
        [
            {
                "s47e_s47_enquiry_id": "S1",
                "s47e_referral_id": "R1",
                "s47e_person_id": "P1",
                "s47e_s47_start_date": "2024-09-10",
                "s47e_s47_nfa": "Y",
            }
        ],
    )
    write_csv(
        csv_dir, "plan_actions", [{"action_id": "X1", "plan_id": "PL1", "person_id": "P1", "action_text": "Attend"}]
    )
    write_csv(
        csv_dir,
        "agency_records",
        [
            {
                "agency": "EDUCATION",
                "agency_record_id": "E1",
                "upn": "J803123424001",
                "forename": "Ann",
                "surname": "Test",
                "dob": "2012-05-06",
                "sex": "F",
                "postcode": "BS1 1AA",
            },
            {"agency": "GP", "agency_record_id": "G1", "nhs_number": "9434765919"},
        ],
    )
    write_csv(csv_dir, "agency_flags", [{"agency": "EDUCATION", "agency_record_id": "E1", "flag_type": "CIN"}])
    write_csv(
        csv_dir,
        "ehcp_plans",
        [
            {
                "ehcp_id": "H1",
                "upn": "J803123424001",
                "named_plan_start_date": "2022-05-20",
                "last_review_date": "2024-11-04",
                "school_urn": "123456",
            },
            {"ehcp_id": "H2", "upn": "R803987622010", "named_plan_start_date": "2023-01-01"},  # no education record
        ],
    )

    result = write_returns(csv_dir, out, collection_year=2025)
    assert (result["cin_children"], result["sen2_persons"]) == (1, 1)
    assert detect_return(out / "cin_census.xml") == "CIN" and detect_return(out / "sen2.xml") == "SEN2"

    cin = read_return(out / "cin_census.xml")
    assert cin.quarantine == [] and cin.year == 2025
    person = typed(cin, "ssd_person").row(0, named=True)
    assert (person["pers_person_id"], person["pers_dob"], person["pers_sex"]) == ("P1", date(2012, 5, 6), "F")
    plan = typed(cin, "ssd_cin_plans").row(0, named=True)
    assert plan["cinp_referral_id"] == "P1/2024-09-02"  # placed under the episode it started in
    assert result["id_map"]["PL1"] == plan["cinp_cin_plan_id"]
    assert typed(cin, "ssd_assessment_factors")["cinf_assessment_factors_json"].to_list() == [["15A", "4A"]]
    assert typed(cin, "ssd_s47_enquiry")["s47e_s47_nfa"].to_list() == [True]

    sen2 = read_return(out / "sen2.xml")
    assert sen2.quarantine == []
    plans = typed(sen2, "ehcp_plans").row(0, named=True)
    assert (plans["upn"], plans["last_review_date"], plans["school_urn"]) == (
        "J803123424001",
        date(2024, 11, 4),
        "123456",
    )

    # What the returns cannot carry stays in CSV, re-keyed to the returns' ids.
    def rows(table):
        with (out / f"{table}.csv").open() as handle:
            return list(csv.DictReader(handle))

    assert [r["pers_person_id"] for r in rows("ssd_person")] == ["P2"]
    assert [r["agency_record_id"] for r in rows("agency_records")] == ["G1"]
    assert [r["ehcp_id"] for r in rows("ehcp_plans")] == ["H2"]
    assert rows("plan_actions")[0]["plan_id"] == plan["cinp_cin_plan_id"]
    assert rows("agency_flags")[0]["agency_record_id"] == "SEN2-J803123424001"
    assert [(r["link_person_id"], r["link_identifier_value"]) for r in rows("ssd_linked_identifiers")] == [
        ("P1", "9434765919")
    ]
    assert not (out / "ssd_cin_episodes.csv").exists()  # every episode went into the census


def test_writer_uses_gender_current_for_the_2023_24_census(tmp_path):
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    write_csv(csv_dir, "ssd_person", [{"pers_person_id": "P1", "pers_dob": "2012-05-06", "pers_sex": "F"}])
    write_csv(
        csv_dir,
        "ssd_cin_episodes",
        [{"cine_referral_id": "R1", "cine_person_id": "P1", "cine_referral_date": "2023-09-02"}],
    )
    write_returns(csv_dir, tmp_path / "out", collection_year=2024)
    text = (tmp_path / "out" / "cin_census.xml").read_text()
    assert "<GenderCurrent>2</GenderCurrent>" in text and "<Sex>" not in text
    assert read_return(tmp_path / "out" / "cin_census.xml").tables["ssd_person"]["pers_sex"].to_list() == ["F"]
