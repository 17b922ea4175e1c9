"""Validation rules of the national returns, per collection and census year, written as data
from the DfE schemas (see docs/RETURNS.md "Years supported" for the sources and differences).

Paths are relative to the record element (Child / Person). kind: group (has child elements),
text, date (xs:date), code (value in `codes`), bool (DfE yes/no type), pattern (regex), upn
(loaded as given: the contract reports a bad UPN as an identifier issue, not quarantine).
min / max: occurrences inside one parent (max None = unbounded).

`strict`: a check, linkage or a key depends on the element, so a record whose value there is
unusable is quarantined. Any other problem is a data-quality warning: the record loads, the
value is kept raw where the contract has a text column for it (else left empty), and the
warning names file, line, element and reason. Elements not listed are ignored, so an element a
later year adds does not stop a record loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Rule:
    kind: str
    min: int = 0
    max: int | None = 1
    codes: frozenset[str] = frozenset()
    pattern: str | None = None
    strict: bool = False


def _codes(*values: str) -> frozenset[str]:
    return frozenset(values)


YES_NO = _codes("true", "false", "TRUE", "FALSE", "0", "1")
YES_VALUES = {"true", "TRUE", "1"}
ETHNICITY = _codes(
    "WBRI",
    "WIRI",
    "WIRT",
    "WOTH",
    "WROM",
    "MWBC",
    "MWBA",
    "MWAS",
    "MOTH",
    "AIND",
    "APKN",
    "ABAN",
    "AOTH",
    "BCRB",
    "BAFR",
    "BOTH",
    "CHNE",
    "OOTH",
    "REFU",
    "NOBT",
)
DISABILITY = _codes("NONE", "MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA")
CIN_GENDER = _codes("0", "1", "2", "9")  # GenderCurrent: not recorded / male / female / indeterminate
SEX = _codes("M", "F", "U")
REFERRAL_SOURCE_2020 = _codes(
    "1A",
    "1B",
    "1C",
    "1D",
    "2A",
    "2B",
    "3A",
    "3B",
    "3C",
    "3D",
    "3E",
    "3F",
    "4",
    "5A",
    "5B",
    "5C",
    "6",
    "7",
    "8",
    "9",
    "10",
)
REFERRAL_SOURCE = REFERRAL_SOURCE_2020 | {"5D"}  # 5D (LA services: early help) from 2022-23
PRIMARY_NEED = _codes("N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9")
CLOSURE_REASON_2020 = _codes("RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8")
CLOSURE_REASON = CLOSURE_REASON_2020 | {"RC9"}  # RC9 (closed after assessment, to early help) from 2022-23
_FACTORS_COMMON = (
    "1A",
    "1B",
    "1C",
    "2A",
    "2B",
    "2C",
    "3A",
    "3B",
    "3C",
    "4A",
    "4B",
    "4C",
    "5A",
    "5B",
    "5C",
    "6A",
    "6B",
    "6C",
    "7A",
    "8B",
    "8C",
    "8D",
    "8E",
    "8F",
    "9A",
    "10A",
    "11A",
    "12A",
    "13A",
    "14A",
    "15A",
    "16A",
    "17A",
    "20",
    "21",
    "22A",
    "23A",
)
ASSESSMENT_FACTORS_2020 = _codes(*_FACTORS_COMMON, "18A", "19A")  # 2019-20 and earlier
ASSESSMENT_FACTORS_2021 = _codes(*_FACTORS_COMMON, "18B", "18C", "19B", "19C")  # 2020-21: abuse split by who
ASSESSMENT_FACTORS = ASSESSMENT_FACTORS_2021 | {"24A"}  # 24A (child criminal exploitation) from 2021-22
ABUSE_CATEGORY = _codes("NEG", "PHY", "SAB", "EMO", "MUL")
UPN_UNKNOWN_CIN = _codes("UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7")
UPN_UNKNOWN_SEN2 = _codes("UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7", "UN8", "UN9", "UN10")
# Pre-proceedings and family group decision making, from the 2026-27 census (cin_pre_proceedings).
# The code lists are not known to the project (docs/RETURNS.md): values are kept as given, and
# only the shape is checked (a letter for PPOutcome, as in the CIN validator's sample).
PRE_PROCEEDINGS_FROM = 2027  # census 2026-27 (31 March 2027)
PP_OUTCOME = r"[A-Za-z0-9]{1,2}"


def _strict(rule: Rule) -> Rule:
    return replace(rule, strict=True)


def cin_rules(year: int) -> dict[str, Rule]:
    """CIN census rules for census year `year` (the year of its 31 March reference date:
    2024 = census 2023-24)."""
    factors = (
        ASSESSMENT_FACTORS_2020 if year <= 2020 else ASSESSMENT_FACTORS_2021 if year <= 2021 else ASSESSMENT_FACTORS
    )
    source = REFERRAL_SOURCE if year >= 2023 else REFERRAL_SOURCE_2020
    closure = CLOSURE_REASON if year >= 2023 else CLOSURE_REASON_2020
    rules: dict[str, Rule] = {
        "ChildIdentifiers": Rule("group", 1, 1, strict=True),
        "ChildIdentifiers/LAchildID": Rule("text", 1, 1, strict=True),
        "ChildIdentifiers/UPN": Rule("upn", strict=True),
        "ChildIdentifiers/FormerUPN": Rule("upn", strict=True),
        "ChildIdentifiers/UPNunknown": Rule("code", codes=UPN_UNKNOWN_CIN),
        # An unborn child has an ExpectedPersonBirthDate and no PersonBirthDate: loaded as a
        # pre-birth case (pers_expected_dob); a child with neither is quarantined by the contract.
        "ChildIdentifiers/PersonBirthDate": Rule("date", 0, 1, strict=True),
        "ChildIdentifiers/ExpectedPersonBirthDate": Rule("date", strict=True),
        # GenderCurrent (digits) to 2023-24; Sex (M/F/U) from 2024-25. Either is read in any
        # year (digits too under Sex, as some systems export them); linkage compares it.
        "ChildIdentifiers/GenderCurrent": Rule("code", codes=CIN_GENDER, strict=True),
        "ChildIdentifiers/Sex": Rule("code", codes=SEX | CIN_GENDER, strict=True),
        # A death date switches off attendance, transition and GP checks after it.
        "ChildIdentifiers/PersonDeathDate": Rule("date", strict=True),
        "ChildCharacteristics": Rule("group", 1, 1),
        "ChildCharacteristics/Ethnicity": Rule("code", 1, 1, codes=ETHNICITY),
        "ChildCharacteristics/Disabilities": Rule("group"),
        "ChildCharacteristics/Disabilities/Disability": Rule("code", 1, None, codes=DISABILITY),
        "CINdetails": Rule("group", 1, None, strict=True),
        "CINdetails/CINreferralDate": Rule("date", 1, 1, strict=True),
        "CINdetails/ReferralSource": Rule("code", 1, 1, codes=source),
        "CINdetails/PrimaryNeedCode": Rule("code", codes=PRIMARY_NEED),
        "CINdetails/CINclosureDate": Rule("date"),
        "CINdetails/ReasonForClosure": Rule("code", codes=closure),
        "CINdetails/DateOfInitialCPC": Rule("date"),
        "CINdetails/ReferralNFA": Rule("bool", 1, 1, codes=YES_NO),
        "CINdetails/Assessments": Rule("group", 0, None),
        "CINdetails/Assessments/AssessmentActualStartDate": Rule("date", 1, 1, strict=True),
        "CINdetails/Assessments/AssessmentInternalReviewDate": Rule("date"),
        "CINdetails/Assessments/AssessmentAuthorisationDate": Rule("date"),
        "CINdetails/Assessments/FactorsIdentifiedAtAssessment": Rule("group"),
        "CINdetails/Assessments/FactorsIdentifiedAtAssessment/AssessmentFactors": Rule("code", 1, None, codes=factors),
        "CINdetails/CINPlanDates": Rule("group", 0, None),
        "CINdetails/CINPlanDates/CINPlanStartDate": Rule("date", 1, 1, strict=True),
        "CINdetails/CINPlanDates/CINPlanEndDate": Rule("date", strict=True),
        "CINdetails/Section47": Rule("group", 0, None),
        "CINdetails/Section47/S47ActualStartDate": Rule("date", 1, 1, strict=True),
        "CINdetails/Section47/InitialCPCtarget": Rule("date"),
        "CINdetails/Section47/DateOfInitialCPC": Rule("date"),
        "CINdetails/Section47/ICPCnotRequired": Rule("bool", 1, 1, codes=YES_NO, strict=True),
        "CINdetails/ChildProtectionPlans": Rule("group", 0, None),
        "CINdetails/ChildProtectionPlans/CPPstartDate": Rule("date", 1, 1),
        "CINdetails/ChildProtectionPlans/CPPendDate": Rule("date"),
        "CINdetails/ChildProtectionPlans/InitialCategoryOfAbuse": Rule("code", 1, 1, codes=ABUSE_CATEGORY),
        "CINdetails/ChildProtectionPlans/LatestCategoryOfAbuse": Rule("code", 1, 1, codes=ABUSE_CATEGORY),
        "CINdetails/ChildProtectionPlans/NumberOfPreviousCPP": Rule("pattern", 1, 1, pattern=r"[0-9]+"),
        "CINdetails/ChildProtectionPlans/Reviews": Rule("group"),
        "CINdetails/ChildProtectionPlans/Reviews/CPPreviewDate": Rule("date", 1, None),
    }
    # Read in any year when present (an earlier return carrying it loads it, with a warning from
    # the mapper); a later year's element does not stop a record loading.
    pp = "CINdetails/PreProceedingsandFGDM"
    rules.update(
        {
            pp: Rule("group", 0, None),
            f"{pp}/PPStartDate": Rule("date"),
            f"{pp}/LBPSentDate": Rule("date"),
            f"{pp}/FGDMMeetingOffer": Rule("text"),
            f"{pp}/FGDMMeetingFac": Rule("text"),
            f"{pp}/InitialPPMeetingDate": Rule("date"),
            f"{pp}/ReviewMeetingsCount": Rule("pattern", pattern=r"[0-9]+"),
            f"{pp}/StepDecisionDate": Rule("date"),
            f"{pp}/PPOutcome": Rule("pattern", pattern=PP_OUTCOME),
            f"{pp}/CourtAppDate": Rule("date"),
            f"{pp}/LetterInitCPDate": Rule("date"),
        }
    )
    return rules


# Exactly one of these in the parent (GenderCurrent was renamed Sex in 2024-25). Missing both
# or giving both is a warning: pers_sex is optional, and Sex wins when both are given.
CIN_ONE_OF = {"ChildIdentifiers": ("GenderCurrent", "Sex")}

SEN_SETTING = _codes("OLA", "EHE", "EYP", "OPA", "OTH", "NEET", "NIEC", "NIEO")
RANK = _codes("1", "2")
SEN_TYPE = _codes("SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH")
REQUEST_OUTCOME = _codes("Y", "N", "A", "W", "H")
REVIEW_OUTCOME = _codes("A", "C", "M")
URN = r"[0-9]{6}"
UKPRN = r"[0-9]{8}"


def _placement_rules(prefix: str, dated: bool) -> dict[str, Rule]:
    rules = {
        f"{prefix}/URN": Rule("pattern", pattern=URN, strict=True),  # school_urn: attendance checks
        f"{prefix}/UKPRN": Rule("pattern", pattern=UKPRN),
        f"{prefix}/SENSetting": Rule("code", codes=SEN_SETTING),
        f"{prefix}/PlacementRank": Rule("code", 1, 1, codes=RANK),
        f"{prefix}/SENunitIndicator": Rule("bool", 1, 1, codes=YES_NO),
        f"{prefix}/ResourcedProvisionIndicator": Rule("bool", 1, 1, codes=YES_NO),
    }
    if dated:
        rules[f"{prefix}/EntryDate"] = Rule("date", 1, 1)
        rules[f"{prefix}/LeavingDate"] = Rule("date")
    return rules


def sen2_rules(year: int) -> dict[str, Rule]:
    """SEN2 person-level rules (census years 2023 on; the same rules are applied to a
    person-level file of an earlier year, with a warning)."""
    return {
        "Surname": Rule("text", 1, 1, strict=True),
        "Forename": Rule("text", 1, 1, strict=True),
        "PersonBirthDate": Rule("date", 1, 1, strict=True),
        "Sex": Rule("code", 1, 1, codes=SEX, strict=True),
        "Ethnicity": Rule("code", codes=ETHNICITY),
        "PostCode": Rule("text"),
        "UPN": Rule("upn", strict=True),
        "UniqueLearnerNumber": Rule("pattern", pattern=r"[0-9]{10}"),
        "UPNunknown": Rule("code", codes=UPN_UNKNOWN_SEN2),
        "Requests": Rule("group", 1, None),
        "Requests/ReceivedDate": Rule("date"),
        "Requests/RYA": Rule("bool", codes=YES_NO),
        "Requests/RequestOutcomeDate": Rule("date"),
        "Requests/RequestOutcome": Rule("code", 1, 1, codes=REQUEST_OUTCOME),
        "Requests/RequestMediation": Rule("bool", codes=YES_NO),
        "Requests/RequestTribunal": Rule("bool", codes=YES_NO),
        "Requests/Exported": Rule("pattern", pattern=r"[0-9]{3}"),
        "Requests/Assessment": Rule("group"),
        "Requests/Assessment/AssessmentOutcome": Rule("code", 1, 1, codes=REQUEST_OUTCOME),
        "Requests/Assessment/AssessmentOutcomeDate": Rule("date"),
        "Requests/Assessment/Week20": Rule("bool", codes=YES_NO),
        "Requests/Assessment/NamedPlan": Rule("group", strict=True),
        "Requests/Assessment/NamedPlan/StartDate": Rule("date", 1, 1, strict=True),
        "Requests/Assessment/NamedPlan/PlanDetail": Rule("group", 1, 2),
        **_placement_rules("Requests/Assessment/NamedPlan/PlanDetail", dated=False),
        "Requests/Assessment/NamedPlan/CeaseDate": Rule("date", strict=True),
        "Requests/Assessment/NamedPlan/CeaseReason": Rule("code", codes=_codes(*"123456789")),
        "Requests/ActivePlans": Rule("group"),
        "Requests/ActivePlans/TransferLA": Rule("pattern", pattern=r"[0-9]{3}"),
        "Requests/ActivePlans/PlacementDetail": Rule("group", 1, 2),
        **_placement_rules("Requests/ActivePlans/PlacementDetail", dated=True),
        "Requests/ActivePlans/SENneed": Rule("group", 1, 2),
        "Requests/ActivePlans/SENneed/SENtype": Rule("code", 1, 1, codes=SEN_TYPE),
        "Requests/ActivePlans/SENneed/SENtypeRank": Rule("code", 1, 1, codes=RANK),
        "Requests/ActivePlans/ReviewMeeting": Rule("date"),
        "Requests/ActivePlans/ReviewOutcome": Rule("code", codes=REVIEW_OUTCOME),
        "Requests/ActivePlans/LastReview": Rule("date", strict=True),  # transition check
    }


@dataclass
class RuleSet:
    collection: str
    year: int
    rules: dict[str, Rule]
    one_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_parent: dict[str, list[tuple[str, Rule]]] = field(default_factory=dict)
    patterns: dict[str, re.Pattern] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path, rule in self.rules.items():
            parent, _, name = path.rpartition("/")
            self.by_parent.setdefault(parent, []).append((name, rule))
            if rule.pattern:
                self.patterns[rule.pattern] = re.compile(rule.pattern)


_CACHE: dict[tuple[str, int], RuleSet] = {}


def rules_for(collection: str, year: int) -> RuleSet:
    key = (collection, year)
    if key not in _CACHE:
        if collection == "CIN":
            _CACHE[key] = RuleSet("CIN", year, cin_rules(year), dict(CIN_ONE_OF))
        else:
            _CACHE[key] = RuleSet("SEN2", year, sen2_rules(year))
    return _CACHE[key]


# Kept for the sample writer: the latest lists.
CIN_RULES = cin_rules(2027)
SEN2_RULES = sen2_rules(2026)
