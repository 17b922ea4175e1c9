"""What the returns keep that used to be dropped, and the duplicate disability code."""

from __future__ import annotations

from datetime import date

from returns_builder import cin_child, cin_return, write

from caseflags.contracts.schema import load_contract
from caseflags.ingest.extracts import find_identifier_issues, parse_frame
from caseflags.ingest.returns.reader import read_return


def _typed(extract, table):
    frame, problems = parse_frame(extract.tables[table], load_contract()[table])
    assert problems.height == 0, problems
    return frame


def test_former_upn_death_date_upn_unknown_and_nfa_are_kept(tmp_path):
    ids = (
        "<FormerUPN>A803123424001</FormerUPN><UPNunknown>UN3</UPNunknown><PersonDeathDate>2026-01-10</PersonDeathDate>"
    )
    child = cin_child(2026, extra_ids=ids).replace(
        "<ReferralNFA>false</ReferralNFA>", "<ReferralNFA>true</ReferralNFA>"
    )
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2026, children=child)))
    assert extract.quarantine == [] and extract.warnings == []
    person = _typed(extract, "ssd_person").row(0, named=True)
    assert (person["pers_death_date"], person["pers_upn_unknown"]) == (date(2026, 1, 10), "UN3")
    linked = _typed(extract, "ssd_linked_identifiers").row(0, named=True)
    assert (linked["link_person_id"], linked["link_identifier_type"], linked["link_identifier_value"]) == (
        "C1",
        "Former UPN",
        "A803123424001",
    )
    assert _typed(extract, "ssd_cin_episodes")["cine_referral_nfa"].to_list() == [True]
    # A former UPN is checked like any UPN (kept out of linkage when its check letter is wrong).
    issues = find_identifier_issues("ssd_linked_identifiers", "cin.xml", _typed(extract, "ssd_linked_identifiers"))
    assert (issues["identifier_type"].to_list(), issues["column_name"].to_list()) == (
        ["UPN"],
        ["link_identifier_value"],
    )


def test_the_episode_date_of_initial_cpc_becomes_a_conference(tmp_path):
    child = cin_child(2025).replace("<Assessments>", "<DateOfInitialCPC>2019-11-20</DateOfInitialCPC><Assessments>")
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2025, children=child)))
    conference = _typed(extract, "ssd_initial_cp_conference").row(0, named=True)
    assert conference["icpc_icpc_date"] == date(2019, 11, 20) and conference["icpc_s47_enquiry_id"] is None
    assert conference["icpc_icpc_id"] == "C1/2019-10-01/ICPC/2019-11-20" and conference["icpc_person_id"] == "C1"


def test_an_episode_icpc_also_given_by_its_section_47_is_one_conference(tmp_path):
    s47 = (
        "<Section47><S47ActualStartDate>2019-10-05</S47ActualStartDate><DateOfInitialCPC>2019-11-20</DateOfInitialCPC>"
        "<ICPCnotRequired>false</ICPCnotRequired></Section47>"
    )
    child = cin_child(2025).replace("<Assessments>", "<DateOfInitialCPC>2019-11-20</DateOfInitialCPC><Assessments>")
    child = child.replace("<ReferralNFA>", s47 + "<ReferralNFA>")
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2025, children=child)))
    assert _typed(extract, "ssd_initial_cp_conference")["icpc_icpc_id"].to_list() == [
        "C1/2019-10-01/S47/2019-10-05/ICPC"
    ]


def test_the_same_disability_twice_is_kept_once_with_a_warning(tmp_path):
    disabilities = "<Disabilities><Disability>AUT</Disability><Disability>AUT</Disability><Disability>HEAR</Disability></Disabilities>"
    child = cin_child(2025).replace("<Ethnicity>WBRI</Ethnicity>", "<Ethnicity>WBRI</Ethnicity>" + disabilities)
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2025, children=child)))
    assert extract.quarantine == []
    assert _typed(extract, "ssd_disability")["disa_disability_code"].to_list() == ["AUT", "HEAR"]
    [warning] = extract.warnings
    assert warning["reason"] == "disability code given twice for the child (first at line 1); kept once"
    assert warning["raw_value"] == "AUT"
