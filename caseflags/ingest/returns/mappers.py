"""Mapping one validated record (a CIN child, a SEN2 person) to contract table rows (text).

Derived ids are stable: the same return read twice gives the same ids. docs/RETURNS.md
("Mapping") lists every element kept and every element read but not kept.
"""

from __future__ import annotations

import hashlib
import json
import re

import polars as pl

from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import LINE
from caseflags.ingest.returns.rules import DISABILITY, PRE_PROCEEDINGS_FROM, PRIMARY_NEED, YES_NO, YES_VALUES, RuleSet
from caseflags.ingest.returns.validate import parse_xs_date, raw, validate_record
from caseflags.ingest.returns.xmltree import Node

CIN_TABLES = (
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
)
SEN2_TABLES = ("agency_records", "ehcp_plans")
RETURN_TABLES = {"CIN": CIN_TABLES, "SEN2": SEN2_TABLES}
FORMER_UPN_TYPE = "Former UPN"  # ssd_linked_identifiers.link_identifier_type for CIN FormerUPN
_FACTOR_FORMAT = re.compile(r"[0-9][0-9A-Za-z]{0,2}")  # what the contract's factor list accepts


class TableRows:
    """Column lists for one contract table, text values plus `_line`."""

    def __init__(self, table: str):
        self.columns = load_contract()[table].column_names
        self.values: dict[str, list] = {c: [] for c in (LINE, *self.columns)}

    def add(self, line: int, **row) -> None:
        self.values[LINE].append(line)
        for column in self.columns:
            self.values[column].append(row.get(column))

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                LINE: pl.Series(self.values[LINE], dtype=pl.Int64),
                **{c: pl.Series(self.values[c], dtype=pl.Utf8) for c in self.columns},
            }
        )


class Mapper:
    collection = ""
    tables: tuple[str, ...] = ()

    def __init__(self, ruleset: RuleSet, quarantine: list[dict], warnings: list[dict]):
        self.ruleset = ruleset
        self.quarantine = quarantine
        self.warnings = warnings
        self.rows = {t: TableRows(t) for t in self.tables}
        self.seen: dict[str, int] = {}  # record key -> line of its first occurrence
        self.records_quarantined = 0

    def frames(self) -> dict[str, pl.DataFrame]:
        return {t: r.frame() for t, r in self.rows.items()}

    def warn(self, line: int, element_path: str, reason: str, raw_value: str | None) -> None:
        self.warnings.append({"line": line, "column_name": element_path, "reason": reason, "raw_value": raw_value})

    def add_record(self, record: Node, record_path: str) -> None:
        problems, warnings = validate_record(record, self.ruleset, record_path)
        key, label = self.key(record)
        if not problems and key is not None and key in self.seen:
            problems.append(
                (record.line, record_path, f"duplicated {label}: first given at line {self.seen[key]}", None)
            )
        if not problems:
            problems += self.mapping_problems(record, record_path)
        if problems:
            described = self.describe(record, record_path)
            self.records_quarantined += 1
            for line, element_path, reason, _raw in problems:
                self.quarantine.append(
                    {
                        "line": line,
                        "column_name": element_path,
                        "reason": reason,
                        "raw_line": described,
                        "record_line": record.line,
                    }
                )
            return
        for line, element_path, reason, raw_value in warnings:
            self.warn(line, element_path, reason, raw_value)
        if key is not None:
            self.seen[key] = record.line
        self.map(record, record_path)

    def key(self, record: Node) -> tuple[str | None, str]:
        raise NotImplementedError

    def describe(self, record: Node, record_path: str) -> str:
        raise NotImplementedError

    def mapping_problems(self, record: Node, record_path: str) -> list:
        return []

    def map(self, record: Node, record_path: str) -> None:
        raise NotImplementedError


def _flag(value: str | None) -> str | None:
    if value is None or value not in YES_NO:
        return None
    return "Y" if value in YES_VALUES else "N"


# Sex as held in pers_sex / agency_records.sex: the SEN2 letters; GenderCurrent digits mapped.
_GENDER_TO_SEX = {"1": "M", "2": "F", "0": "U", "9": "I"}


def _sex(value: str | None) -> str | None:
    if value is None:
        return None
    return _GENDER_TO_SEX.get(value, value)


def _date_at(node: Node | None, path: str) -> str | None:
    if node is None:
        return None
    return parse_xs_date(node.get(path))


def _unique(base: str, used: dict[str, int]) -> str:
    """A derived id, with `#2`, `#3`... when the same child has two parts on the same date."""
    used[base] = used.get(base, 0) + 1
    return base if used[base] == 1 else f"{base}#{used[base]}"


class CinMapper(Mapper):
    collection = "CIN"
    tables = CIN_TABLES

    def key(self, record: Node) -> tuple[str | None, str]:
        return record.get("ChildIdentifiers/LAchildID"), "child, same LAchildID"

    def describe(self, record: Node, record_path: str) -> str:
        child_id = record.get("ChildIdentifiers/LAchildID")
        return f"{record_path} at line {record.line}, LAchildID {child_id or '(none)'}"

    def map(self, child: Node, record_path: str) -> None:
        ids = child.first("ChildIdentifiers")
        person = ids.get("LAchildID")
        self.rows["ssd_person"].add(
            child.line,
            pers_person_id=person,
            pers_upn=ids.get("UPN"),
            pers_dob=parse_xs_date(ids.get("PersonBirthDate")),
            pers_expected_dob=parse_xs_date(ids.get("ExpectedPersonBirthDate")),
            pers_sex=_sex(ids.get("Sex") or ids.get("GenderCurrent")),
            pers_death_date=parse_xs_date(ids.get("PersonDeathDate")),
            pers_upn_unknown=ids.get("UPNunknown"),
        )
        former = ids.first("FormerUPN")
        if former is not None and former.value():
            self.rows["ssd_linked_identifiers"].add(
                former.line,
                link_person_id=person,
                link_identifier_type=FORMER_UPN_TYPE,
                link_identifier_value=former.value(),
            )
        characteristics = child.first("ChildCharacteristics")
        disabilities = characteristics.first("Disabilities") if characteristics is not None else None
        given: dict[str, int] = {}
        for disability in disabilities.all("Disability") if disabilities else ():
            code = disability.value()
            if code not in DISABILITY:
                continue  # listed as a warning; the contract has no place for an unknown code
            if code in given:
                self.warn(
                    disability.line,
                    f"{record_path}/ChildCharacteristics/Disabilities/Disability",
                    f"disability code given twice for the child (first at line {given[code]}); kept once",
                    raw(code),
                )
                continue
            given[code] = disability.line
            self.rows["ssd_disability"].add(disability.line, disa_person_id=person, disa_disability_code=code)
        episode_ids: dict[str, int] = {}
        for episode in child.all("CINdetails"):
            referral_date = parse_xs_date(episode.get("CINreferralDate"))
            referral_id = _unique(f"{person}/{referral_date}", episode_ids)
            need = episode.get("PrimaryNeedCode")
            self.rows["ssd_cin_episodes"].add(
                episode.line,
                cine_referral_id=referral_id,
                cine_person_id=person,
                cine_referral_date=referral_date,
                cine_cin_primary_need_code=need if need in PRIMARY_NEED else None,
                cine_close_date=_date_at(episode, "CINclosureDate"),
                cine_close_reason=episode.get("ReasonForClosure"),
                cine_referral_nfa=_flag(episode.get("ReferralNFA")),
            )
            self._map_episode_parts(episode, person, referral_id, record_path)

    def _map_episode_parts(self, episode: Node, person: str, referral_id: str, record_path: str) -> None:
        part_ids: dict[str, int] = {}
        for assessment in episode.all("Assessments"):
            start = _date_at(assessment, "AssessmentActualStartDate")
            assessment_id = _unique(f"{referral_id}/A/{start}", part_ids)
            self.rows["ssd_cin_assessments"].add(
                assessment.line,
                cina_assessment_id=assessment_id,
                cina_person_id=person,
                cina_referral_id=referral_id,
                cina_assessment_start_date=start,
                cina_assessment_auth_date=_date_at(assessment, "AssessmentAuthorisationDate"),
            )
            factors = assessment.first("FactorsIdentifiedAtAssessment")
            if factors is not None:
                # Unknown codes of the right shape (e.g. 18A after 2020) are kept raw, warned.
                codes = [f.value() for f in factors.all("AssessmentFactors") if _FACTOR_FORMAT.fullmatch(f.value())]
                if codes:
                    self.rows["ssd_assessment_factors"].add(
                        factors.line,
                        cinf_assessment_id=assessment_id,
                        cinf_assessment_factors_json=json.dumps(codes, separators=(",", ":")),
                    )
        for plan in episode.all("CINPlanDates"):
            start = _date_at(plan, "CINPlanStartDate")
            self.rows["ssd_cin_plans"].add(
                plan.line,
                cinp_cin_plan_id=_unique(f"{referral_id}/P/{start}", part_ids),
                cinp_referral_id=referral_id,
                cinp_person_id=person,
                cinp_cin_plan_start_date=start,
                cinp_cin_plan_end_date=_date_at(plan, "CINPlanEndDate"),
            )
        held_dates = set()
        for s47 in episode.all("Section47"):
            start = _date_at(s47, "S47ActualStartDate")
            enquiry_id = _unique(f"{referral_id}/S47/{start}", part_ids)
            self.rows["ssd_s47_enquiry"].add(
                s47.line,
                s47e_s47_enquiry_id=enquiry_id,
                s47e_referral_id=referral_id,
                s47e_person_id=person,
                s47e_s47_start_date=start,
                s47e_s47_nfa=_flag(s47.get("ICPCnotRequired")),
            )
            target, held = _date_at(s47, "InitialCPCtarget"), _date_at(s47, "DateOfInitialCPC")
            if target or held:
                held_dates.add(held)
                self.rows["ssd_initial_cp_conference"].add(
                    s47.line,
                    icpc_icpc_id=f"{enquiry_id}/ICPC",
                    icpc_s47_enquiry_id=enquiry_id,
                    icpc_person_id=person,
                    icpc_icpc_target_date=target,
                    icpc_icpc_date=held,
                )
        self._map_pre_proceedings(episode, person, referral_id, record_path, part_ids)
        # The episode's own DateOfInitialCPC: the conference of this episode, when no S47 of the
        # episode already gives it (an ICPC can follow an S47 of an earlier census year).
        episode_icpc = _date_at(episode, "DateOfInitialCPC")
        if episode_icpc and episode_icpc not in held_dates:
            self.rows["ssd_initial_cp_conference"].add(
                episode.line,
                icpc_icpc_id=f"{referral_id}/ICPC/{episode_icpc}",
                icpc_s47_enquiry_id=None,
                icpc_person_id=person,
                icpc_icpc_target_date=None,
                icpc_icpc_date=episode_icpc,
            )

    def _map_pre_proceedings(
        self, episode: Node, person: str, referral_id: str, record_path: str, part_ids: dict[str, int]
    ) -> None:
        """`PreProceedingsandFGDM` (2026-27 on; the block may repeat in an episode)."""
        for block in episode.all("PreProceedingsandFGDM"):
            if self.ruleset.year < PRE_PROCEEDINGS_FROM:
                self.warn(
                    block.line,
                    f"{record_path}/CINdetails/PreProceedingsandFGDM",
                    "PreProceedingsandFGDM is collected from the 2026-27 census: read from an earlier census",
                    None,
                )
            start = _date_at(block, "PPStartDate")
            count = block.get("ReviewMeetingsCount")
            self.rows["cin_pre_proceedings"].add(
                block.line,
                cinpp_pre_proceedings_id=_unique(f"{referral_id}/PP/{start or 'undated'}", part_ids),
                cinpp_referral_id=referral_id,
                cinpp_person_id=person,
                cinpp_pp_start_date=start,
                cinpp_lbp_sent_date=_date_at(block, "LBPSentDate"),
                cinpp_fgdm_meeting_offer=block.get("FGDMMeetingOffer"),
                cinpp_fgdm_meeting_fac=block.get("FGDMMeetingFac"),
                cinpp_initial_pp_meeting_date=_date_at(block, "InitialPPMeetingDate"),
                cinpp_review_meetings_count=count if count is not None and count.isdigit() else None,
                cinpp_step_decision_date=_date_at(block, "StepDecisionDate"),
                cinpp_pp_outcome=block.get("PPOutcome"),
                cinpp_court_app_date=_date_at(block, "CourtAppDate"),
                cinpp_letter_init_cp_date=_date_at(block, "LetterInitCPDate"),
            )


class Sen2Mapper(Mapper):
    collection = "SEN2"
    tables = SEN2_TABLES

    def key(self, record: Node) -> tuple[str | None, str]:
        return sen2_record_id(
            record.get("UPN"), record.get("Forename"), record.get("Surname"), record.get("PersonBirthDate")
        ), "person, same UPN (or name and birth date)"

    def describe(self, record: Node, record_path: str) -> str:
        upn = record.get("UPN")
        return f"{record_path} at line {record.line}" + (f", UPN {upn}" if upn else "")

    def mapping_problems(self, person: Node, record_path: str) -> list:
        # ehcp_plans needs a UPN to reach the child; a plan without one cannot load.
        if person.get("UPN") is None and any(_named_plan(r) is not None for r in person.all("Requests")):
            return [(person.line, f"{record_path}/UPN", "an EHC plan cannot be loaded without a UPN", None)]
        return []

    def map(self, person: Node, record_path: str) -> None:
        upn = person.get("UPN")
        record_id = sen2_record_id(upn, person.get("Forename"), person.get("Surname"), person.get("PersonBirthDate"))
        self.rows["agency_records"].add(
            person.line,
            agency="EDUCATION",
            agency_record_id=record_id,
            upn=upn,
            forename=person.get("Forename"),
            surname=person.get("Surname"),
            dob=_date_at(person, "PersonBirthDate"),
            sex=person.get("Sex"),
            postcode=person.get("PostCode"),
        )
        plan_ids: dict[str, int] = {}
        for request in person.all("Requests"):
            plan = _named_plan(request)
            if plan is None:
                continue
            start = _date_at(plan, "StartDate")
            active = request.first("ActivePlans")
            self.rows["ehcp_plans"].add(
                plan.line,
                ehcp_id=_unique(f"{record_id}/{start}", plan_ids),
                upn=upn,
                named_plan_start_date=start,
                ceased_date=_date_at(plan, "CeaseDate"),
                last_review_date=_date_at(active, "LastReview") if active is not None else None,
                school_urn=_first_rank_urn(active.all("PlacementDetail") if active is not None else [])
                or _first_rank_urn(plan.all("PlanDetail")),
            )


def sen2_record_id(upn: str | None, forename: str | None, surname: str | None, dob: str | None) -> str:
    """Stable EDUCATION agency_record_id for a SEN2 person: from the UPN, else a digest of name
    and birth date (SEN2 carries no local person id)."""
    if upn:
        return f"SEN2-{upn.upper()}"
    digest = hashlib.sha1("|".join(v or "" for v in (forename, surname, dob)).upper().encode()).hexdigest()
    return f"SEN2-H{digest[:12]}"


def _named_plan(request: Node) -> Node | None:
    assessment = request.first("Assessment")
    return assessment.first("NamedPlan") if assessment is not None else None


def _first_rank_urn(placements: list[Node]) -> str | None:
    ranked = sorted(placements, key=lambda p: p.get("PlacementRank") or "9")
    for placement in ranked:
        if urn := placement.get("URN"):
            return urn
    return None
