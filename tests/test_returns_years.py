"""Every supported census year's structure, both header Year conventions, later and earlier
years, and the data-quality warnings of values nothing depends on."""

from __future__ import annotations

import json

import pytest
from returns_builder import (
    CIN_YEARS,
    SEN2_YEARS,
    cin_child,
    cin_return,
    sen2_aggregate,
    sen2_person,
    sen2_return,
    write,
)

from caseflags.ingest.returns.reader import ReturnRefused, read_return


@pytest.mark.parametrize("year", CIN_YEARS)
@pytest.mark.parametrize("convention", ["reference year", "year before"])
def test_each_cin_census_year_loads_clean_in_both_year_conventions(tmp_path, year, convention):
    extract = read_return(write(tmp_path / "cin.xml", cin_return(year, convention)))
    assert (extract.collection, extract.year, extract.year_convention) == ("CIN", year, f"Year = {convention}")
    assert extract.quarantine == [] and extract.warnings == []
    person = extract.tables["ssd_person"].row(0, named=True)
    assert (person["pers_person_id"], person["pers_sex"], person["pers_dob"]) == ("C1", "F", "2012-05-06")
    assert extract.tables["ssd_cin_plans"].height == (1 if year >= 2022 else 0)  # CINPlanDates from 2021-22
    factors = json.loads(extract.tables["ssd_assessment_factors"]["cinf_assessment_factors_json"][0])
    assert factors == ["18A" if year <= 2020 else "18B" if year <= 2021 else "24A"]
    episode = extract.tables["ssd_cin_episodes"].row(0, named=True)
    assert episode["cine_close_reason"] == ("RC9" if year >= 2023 else "RC8")
    assert episode["cine_referral_nfa"] == "N"


@pytest.mark.parametrize(
    "year, factor, source, closure, element",
    [
        (2021, "18A", None, None, "AssessmentFactors"),  # replaced by 18B / 18C in 2020-21
        (2025, "19A", None, None, "AssessmentFactors"),  # still seen in 2024-25 exports (CIN validator 8950Q)
        (2022, None, "5D", None, "ReferralSource"),  # 5D only from 2022-23
        (2021, None, None, "RC9", "ReasonForClosure"),  # RC9 only from 2022-23
    ],
)
def test_a_code_from_another_year_is_a_warning_and_kept_raw(tmp_path, year, factor, source, closure, element):
    child = cin_child(year, factor=factor, source=source, closure=closure)
    extract = read_return(write(tmp_path / "cin.xml", cin_return(year, children=child)))
    assert extract.quarantine == []
    [warning] = extract.warnings
    assert warning["column_name"].endswith(element) and warning["reason"] == "unknown code"
    assert warning["raw_value"] == (factor or source or closure) and warning["line"] == 1
    if factor:
        assert json.loads(extract.tables["ssd_assessment_factors"]["cinf_assessment_factors_json"][0]) == [factor]


def test_the_census_year_comes_from_the_reference_date_when_year_is_either_convention(tmp_path):
    """The issue's case: Year 2023 with ReferenceDate 2024-03-31 is census 2023-24."""
    text = cin_return(2024).replace("<Year>2024</Year>", "<Year>2023</Year>")
    extract = read_return(write(tmp_path / "cin.xml", text))
    assert (extract.year, extract.year_convention, extract.warnings) == (2024, "Year = year before", [])


def test_year_only_and_no_year_load_with_a_warning(tmp_path):
    only = read_return(write(tmp_path / "a.xml", cin_return(2023, "Year only")))
    assert only.year == 2023 and [w["reason"] for w in only.warnings] == [
        "no ReferenceDate: the header Year is taken as the census year"
    ]
    none = read_return(write(tmp_path / "b.xml", cin_return(2026, "none")))
    assert none.year == 2027 and none.tables["ssd_person"].height == 1  # the latest rules: 2026-27
    assert any("census year unknown" in w["reason"] for w in none.warnings)


def test_a_year_and_reference_date_that_disagree_use_the_reference_date(tmp_path):
    text = cin_return(2024).replace("<Year>2024</Year>", "<Year>2019</Year>")
    extract = read_return(write(tmp_path / "cin.xml", text))
    assert extract.year == 2024
    assert [w["reason"] for w in extract.warnings] == [
        "header Year 2019 does not match ReferenceDate 2024-03-31; ReferenceDate used"
    ]


def test_a_later_year_with_a_known_structure_loads_with_a_warning(tmp_path):
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2028, children=cin_child(2027))))
    assert extract.year == 2028 and extract.quarantine == []
    assert extract.tables["ssd_person"].height == 1
    assert [w["reason"] for w in extract.warnings] == [
        "CIN 2027-28 is later than the years the project has read; loaded with the 2026-27 rules"
    ]


def test_an_earlier_year_with_the_same_structure_loads_with_a_warning(tmp_path):
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2019, children=cin_child(2020))))
    assert extract.tables["ssd_person"].height == 1 and extract.quarantine == []
    assert [w["reason"] for w in extract.warnings] == [
        "CIN 2018-19 is earlier than the years supported; loaded with the 2019-20 rules"
    ]


def test_a_later_year_that_cannot_be_read_is_refused(tmp_path):
    text = cin_return(2027).replace("<Children>", "<Pupils>").replace("</Children>", "</Pupils>")
    with pytest.raises(ReturnRefused, match="no Children element"):
        read_return(write(tmp_path / "cin.xml", text))


@pytest.mark.parametrize("year", SEN2_YEARS)
@pytest.mark.parametrize("convention", ["reference year", "year before"])
def test_each_person_level_sen2_year_loads(tmp_path, year, convention):
    extract = read_return(write(tmp_path / "sen2.xml", sen2_return(year, convention)))
    assert (extract.collection, extract.year, extract.quarantine, extract.warnings) == ("SEN2", year, [], [])
    assert extract.tables["ehcp_plans"]["school_urn"].to_list() == ["109876"]


@pytest.mark.parametrize("year", [2019, 2020, 2021, 2022])
def test_an_aggregate_sen2_before_2023_is_named_for_what_it_is(tmp_path, year):
    with pytest.raises(ReturnRefused) as refused:
        read_return(write(tmp_path / "sen2.xml", sen2_aggregate(year)))
    assert refused.value.reason == (
        f"SEN2 {year} is the aggregate return (counts, no Persons): nothing per child "
        "to load; person-level SEN2 starts with January 2023"
    )


def test_a_person_level_file_labelled_before_2023_loads_with_a_warning(tmp_path):
    extract = read_return(write(tmp_path / "sen2.xml", sen2_return(2022)))
    assert extract.tables["agency_records"].height == 1
    assert any("predates the person-level SEN2" in w["reason"] for w in extract.warnings)


def test_an_unknown_sen2_ethnicity_is_a_warning_not_a_quarantine(tmp_path):
    person = sen2_person().replace("<Ethnicity>WBRI</Ethnicity>", "<Ethnicity>XXXX</Ethnicity>")
    extract = read_return(write(tmp_path / "sen2.xml", sen2_return(2025, persons=person)))
    assert extract.quarantine == [] and extract.tables["agency_records"].height == 1
    assert [(w["column_name"], w["reason"], w["raw_value"]) for w in extract.warnings] == [
        ("Message/Persons/Person/Ethnicity", "unknown code", "XXXX")
    ]
