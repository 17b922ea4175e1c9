"""Writes CIN census and SEN2 returns of each census year's structure for the tests.

The structures follow the DfE schemas year by year (docs/RETURNS.md "Years supported"):
GenderCurrent to 2023-24 and Sex from 2024-25; CINPlanDates from 2021-22; assessment factors
18A/19A to 2019-20, 18B/18C/19B/19C from 2020-21, 24A from 2021-22; referral source 5D and
closure reason RC9 from 2022-23; PreProceedingsandFGDM from 2026-27. SEN2 is person level from
January 2023 (before that an aggregate return).
"""

from __future__ import annotations

from pathlib import Path

CIN_YEARS = (2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027)  # census 2019-20 .. 2026-27
SEN2_YEARS = (2023, 2024, 2025, 2026)


def header(collection: str, year_text: str | None, reference: str | None) -> str:
    parts = [f"<Collection>{collection}</Collection>"]
    if year_text is not None:
        parts.append(f"<Year>{year_text}</Year>")
    if reference is not None:
        parts.append(f"<ReferenceDate>{reference}</ReferenceDate>")
    return (
        "<Header><CollectionDetails>" + "".join(parts) + "</CollectionDetails>"
        "<Source><SourceLevel>L</SourceLevel><LEA>803</LEA></Source></Header>"
    )


def cin_child(
    year: int,
    child_id: str = "C1",
    *,
    sex: str = "F",
    extra_ids: str = "",
    factor: str | None = None,
    closure: str | None = None,
    source: str | None = None,
) -> str:
    if year <= 2024:
        gender = f"<GenderCurrent>{ {'M': '1', 'F': '2'}.get(sex, '0') }</GenderCurrent>"
    else:
        gender = f"<Sex>{sex}</Sex>"
    factor = factor or ("18A" if year <= 2020 else "18B" if year <= 2021 else "24A")
    source = source or ("5D" if year >= 2023 else "5C")
    closure = closure or ("RC9" if year >= 2023 else "RC8")
    plans = "<CINPlanDates><CINPlanStartDate>2019-11-01</CINPlanStartDate></CINPlanDates>" if year >= 2022 else ""
    pre = (
        (
            "<PreProceedingsandFGDM><PPStartDate>2026-09-09</PPStartDate><FGDMMeetingOffer>1</FGDMMeetingOffer>"
            "<PPOutcome>A</PPOutcome></PreProceedingsandFGDM>"
        )
        if year >= 2027
        else ""
    )
    return (
        f"<Child><ChildIdentifiers><LAchildID>{child_id}</LAchildID><UPN>A803123424001</UPN>"
        f"<PersonBirthDate>2012-05-06</PersonBirthDate>{gender}{extra_ids}</ChildIdentifiers>"
        "<ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>"
        f"<CINdetails><CINreferralDate>2019-10-01</CINreferralDate><ReferralSource>{source}</ReferralSource>"
        f"<PrimaryNeedCode>N1</PrimaryNeedCode><CINclosureDate>2019-12-01</CINclosureDate>"
        f"<ReasonForClosure>{closure}</ReasonForClosure>"
        "<Assessments><AssessmentActualStartDate>2019-10-02</AssessmentActualStartDate>"
        f"<FactorsIdentifiedAtAssessment><AssessmentFactors>{factor}</AssessmentFactors></FactorsIdentifiedAtAssessment>"
        f"</Assessments>{plans}<ReferralNFA>false</ReferralNFA>{pre}</CINdetails></Child>"
    )


def cin_return(year: int, convention: str = "reference year", children: str | None = None) -> str:
    """A census of year `year` (31 March `year`). convention: 'reference year' (Year = year),
    'year before' (Year = year - 1, as the CIN validator's samples), 'Year only' (no
    ReferenceDate), 'none' (neither)."""
    reference = f"{year}-03-31"
    year_text = {"reference year": str(year), "year before": str(year - 1), "Year only": str(year), "none": None}[
        convention
    ]
    if convention in ("Year only", "none"):
        reference = None
    body = children if children is not None else cin_child(year)
    return f'<?xml version="1.0" encoding="UTF-8"?><Message>{header("CIN", year_text, reference)}<Children>{body}</Children></Message>'


def sen2_person(upn: str = "A803123424001") -> str:
    return (
        f"<Person><Surname>Test</Surname><Forename>Alpha</Forename><PersonBirthDate>2012-05-06</PersonBirthDate>"
        f"<Sex>F</Sex><Ethnicity>WBRI</Ethnicity><PostCode>BS1 1AA</PostCode><UPN>{upn}</UPN>"
        "<Requests><RequestOutcome>Y</RequestOutcome><Assessment><AssessmentOutcome>Y</AssessmentOutcome>"
        "<NamedPlan><StartDate>2022-05-20</StartDate><PlanDetail><URN>109876</URN><SENSetting>OLA</SENSetting>"
        "<PlacementRank>1</PlacementRank><SENunitIndicator>false</SENunitIndicator>"
        "<ResourcedProvisionIndicator>false</ResourcedProvisionIndicator></PlanDetail></NamedPlan></Assessment>"
        "</Requests></Person>"
    )


def sen2_return(year: int, convention: str = "reference year", persons: str | None = None) -> str:
    reference = f"{year}-01-16"
    year_text = {"reference year": str(year), "year before": str(year - 1)}[convention]
    body = f"<Persons>{persons if persons is not None else sen2_person()}</Persons>" if persons != "" else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Message>{header("SEN2", year_text, reference)}{body}</Message>'


def sen2_aggregate(year: int) -> str:
    """The pre-2023 SEN2: counts by age and setting, no persons."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Message>{header("SEN2", str(year), f"{year}-01-17")}'
        "<EHCPs><Age><AgeGroup>5-10</AgeGroup><Count>120</Count></Age></EHCPs></Message>"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
