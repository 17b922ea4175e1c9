"""Builds every record of one LA child: compliant by default, then the planted deviations.

Over 500 lines on purpose: a planted scenario touches several tables of the same child at once
(an episode, its plan, meetings, invitations, partner records), and draws from the child's one
random stream in order. The deviations of the checks planted since the first sample stay woven
into these steps, so a seed keeps giving the same bytes; each check's scenarios and truth are in
`truth/<check_id>.py`. A check added since plants in its own module (`plant(builder, scenario)`,
run once the compliant child is built, with its own stream `plant_rng`), never here.
"""

import random
from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from . import truth as planted_truth
from ._attendance import (
    AttendancePlan,
    SessionGrid,
    draw_absence_rate,
    exact_current_possible,
    pupil_sessions,
    summary_row,
)
from ._calendar import add_months, age_in_years
from ._identifiers import corrupt_nhs_number, corrupt_upn, is_valid_nhs_number, is_valid_upn, synthetic_nhs_number
from ._names import ACTIONS_BY_AGENCY, CLOSE_REASONS, DIFFERENCE_TOPICS, SOCIAL_WORKER_CHANGE_REASONS, VOICE_METHODS
from ._people import (
    SIBLING_NHS_SERIAL_BASE,
    Person,
    agency_record,
    give_shared_identifier,
    limit_identity_noise,
    swapped_day_month,
)
from ._truth import ChildFacts
from ._world import INVITEE_ROLE, World, random_person_name, random_postcode

DAY = timedelta(days=1)
FACTOR_POOL = ["1A", "2A", "3A", "4A", "5A", "6A", "16A", "17A", "18B", "8B", "21", "20"]
NEED_CODES = ["N1"] * 50 + ["N2"] * 12 + ["N3"] * 8 + ["N4"] * 15 + ["N5"] * 3 + ["N6"] * 4 + ["N8"] * 5 + ["N9"] * 3


class ChildBuilder:
    """One child's facts. `facts.rows` holds what belongs to the child (truth input); `extra`
    holds rows written to the delivery that belong to someone else (siblings, a twin)."""

    def __init__(self, world: World, grid: SessionGrid, person: Person):
        self.world, self.grid, self.p = world, grid, person
        self.D, self.wd = world.as_at, world.working_days
        self.rng = random.Random(f"{world.seed}/child/{person.index}")
        self.np_rng = np.random.default_rng([world.seed, 1, person.index])
        self.s = person.scenarios
        self.facts = ChildFacts(person.person_id, person.dob, None)
        self.rows = self.facts.rows
        self.extra: dict[str, list[dict]] = defaultdict(list)
        self.attendance_lines: list[str] = []
        self.counters: dict[str, int] = defaultdict(int)
        self.gp_periods: list[tuple[date, date | None]] = []
        self.allocations: list[tuple[str, date, date | None]] = []  # (worker, start, end)
        self.partners: set[str] = set()
        self.records: dict[str, dict] = {}
        self.planted_identity_record: str | None = None  # the agency whose record carries dob_swapped / dob_blank
        self.flagged: set[str] = set()  # partner agencies holding an open flag at D
        self.last_cin_meeting_agencies: set[str] = set()

    # -- small helpers ------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}{self.p.index:07d}{self.counters[prefix]:03d}"

    def days_ago(self, low: int, high: int) -> date:
        return self.D - timedelta(days=self.rng.randint(low, high))

    def working_day_near(self, day: date) -> date:
        return self.wd.next_working_day(day)

    def plant_rng(self, check_id: str) -> random.Random:
        """A check's own random stream for its `plant` hook, so planting draws nothing from the child's."""
        return random.Random(f"{self.world.seed}/plant/{check_id}/{self.p.index}")

    def has(self, *names: str) -> bool:
        return any(name in self.s for name in names)

    def staff(self, agency: str) -> str:
        if agency == "GP":
            return next(p.gp_id for p in self.world.practices if p.code == self.p.practice_code)
        if agency == "EDUCATION":
            return self.p.school.dsl_id if self.p.school else self.world.schools[0].dsl_id
        return self.rng.choice(self.world.partner_staff[agency])

    def worker_on(self, day: date) -> str | None:
        for worker, start, end in self.allocations:
            if start <= day and (end is None or end > day):
                return worker
        return None

    def gp_registered_on(self, day: date) -> bool:
        return any(start <= day and (end is None or end > day) for start, end in self.gp_periods)

    def age_on(self, day: date) -> int:
        return age_in_years(self.p.dob, day)

    # -- the whole child ----------------------------------------------------------------------

    def build_child_in_need(self) -> ChildFacts:
        self.plan_referral_and_plan()
        self.family()
        self.gp_registration()
        self.choose_partners()
        self.social_worker_allocations()
        self.partner_records()
        self.partner_flags()
        self.episodes_assessments_and_plans()
        self.cin_meetings()
        self.section_47()
        self.perplexing_presentation()
        self.self_harm()
        self.plan_actions()
        self.voice()
        self.routine_shares()
        self.visits_and_contacts()
        self.professional_differences()
        self.transition_plans()
        self.ehcp()
        self.attendance()
        self.person_rows()
        planted_truth.plant(self)
        return self.facts

    def build_known_not_in_need(self) -> ChildFacts:
        """Closed CiN cases and EHCP-only children: in ssd_person but outside the CiN cohort."""
        p = self.p
        self.referral = self.days_ago(500, 2500) if p.kind == "closed" else None
        if self.referral and self.referral < p.dob + 30 * DAY:
            self.referral = p.dob + 30 * DAY
        self.gp_registration()
        self.partners = {"GP"} | ({"EDUCATION"} if p.upn and 4 <= p.age_aug31 <= 17 else set())
        if self.rng.random() < 0.5:
            self.partners.add("COMMUNITY_HEALTH")
        self.partner_records(allow_dob_noise=False)
        if self.referral:
            referral_id = self.new_id("REF")
            plan_start = self.referral + timedelta(days=self.rng.randint(15, 40))
            plan_end = (
                self.D
                if "plan_ended_today" in self.s
                else min(self.D - DAY, plan_start + timedelta(days=self.rng.randint(90, 500)))
            )
            self.rows["ssd_cin_episodes"].append(
                {
                    "cine_referral_id": referral_id,
                    "cine_person_id": p.person_id,
                    "cine_referral_date": self.referral,
                    "cine_cin_primary_need_code": self.rng.choice(NEED_CODES),
                    "cine_close_date": plan_end,
                    "cine_close_reason": self.rng.choice(CLOSE_REASONS),
                }
            )
            self.assessment(referral_id, self.referral, with_self_harm=False)
            self.rows["ssd_cin_plans"].append(
                {
                    "cinp_cin_plan_id": self.new_id("CINP"),
                    "cinp_referral_id": referral_id,
                    "cinp_person_id": p.person_id,
                    "cinp_cin_plan_start_date": plan_start,
                    "cinp_cin_plan_end_date": plan_end,
                }
            )
            for record in self.records.values():
                self.rows["agency_flags"].append(
                    {
                        "agency": record["agency"],
                        "agency_record_id": record["agency_record_id"],
                        "flag_type": "CIN",
                        "flag_value": None,
                        "start_date": plan_start + 5 * DAY,
                        "end_date": plan_end + 10 * DAY,
                        "recorded_date": plan_start + 5 * DAY,
                    }
                )
        if p.has_ehcp and "EDUCATION" in self.records:
            record = self.records["EDUCATION"]
            self.rows["agency_flags"].append(
                {
                    "agency": "EDUCATION",
                    "agency_record_id": record["agency_record_id"],
                    "flag_type": "EHCP",
                    "flag_value": None,
                    "start_date": self.D - 400 * DAY,
                    "end_date": None,
                    "recorded_date": self.D - 400 * DAY,
                }
            )
        self.transition_plans()
        self.ehcp()
        self.attendance()
        self.person_rows()
        planted_truth.plant(self)
        return self.facts

    # -- referral, family, GP -----------------------------------------------------------------

    def plan_referral_and_plan(self):
        p, rng = self.p, self.rng
        roll = rng.random()
        history_days = (
            rng.randint(60, 180) if roll < 0.25 else rng.randint(180, 540) if roll < 0.7 else rng.randint(540, 1400)
        )
        if self.has(
            "sw_three_in_year",
            "sw_two_in_year",
            "sw_back_to_first",
            "sw_unallocated",
            "sw_stale_flag",
            "sw_stale_edge",
            "review_overdue",
            "review_edge",
            "s47_nfa_old",
        ):
            history_days = rng.randint(430, 1200)
        self.referral = self.D - timedelta(days=history_days)
        self.plan_start = self.referral + timedelta(days=rng.randint(10, 40))
        if "new_plan_no_review" in self.s:
            self.plan_start = self.D - 60 * DAY
            self.referral = self.plan_start - 20 * DAY
        earliest = p.dob + 14 * DAY
        if self.referral < earliest:
            self.referral = earliest
            self.plan_start = max(self.plan_start, self.referral + 10 * DAY)
        self.plan_start = min(self.plan_start, self.D - 25 * DAY)
        self.plan_id = self.new_id("CINP")
        self.referral_id = self.new_id("REF")

    def family(self):
        p, rng = self.p, self.rng
        members = []
        if rng.random() < 0.97:
            members.append(("MOTHER", True, rng.random() < 0.9))
        self.father_role = None
        if "father_not_recorded" in self.s:
            if rng.random() < 0.5:
                members.append(("STEP_PARENT", False, True))
        elif "male_carer_voice" in self.s:
            self.father_role = "MALE_CARER"
            members.append(("MALE_CARER", False, True))
        else:
            self.father_role = "FATHER"
            members.append(("FATHER", True, rng.random() < 0.55))
            if rng.random() < 0.1:
                members.append(("MALE_CARER", False, True))
        self.siblings = []
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 2, 3])):
            members.append(("SIBLING", None, rng.random() < 0.85))
        if rng.random() < 0.05:
            members.append(("OTHER", False, False))
        for relationship, responsibility, lives_with in members:
            member_id = self.new_id("FM")
            self.rows["family_members"].append(
                {
                    "person_id": p.person_id,
                    "member_id": member_id,
                    "relationship": relationship,
                    "parental_responsibility": responsibility,
                    "lives_with_child": lives_with,
                }
            )
            if relationship == "SIBLING":
                self.siblings.append(member_id)

    def gp_registration(self):
        p, rng = self.p, self.rng
        first = p.dob + timedelta(days=rng.randint(7, 42))
        if "gp_none" in self.s:
            periods = []
        elif "gp_ended" in self.s:
            periods = [(first, self.days_ago(20, 90))]
        elif "gp_registered_today" in self.s:
            periods = [(first, self.D - 30 * DAY), (self.D, None)]
        elif "gp_not_registered_then" in self.s:
            periods = [(self.D - 100 * DAY, None)]  # moved into the country/area
        elif rng.random() < 0.15 and (self.D - first).days > 800:
            transfer = first + timedelta(days=rng.randint(200, (self.D - first).days - 500))
            periods = [(first, transfer), (transfer, None)]
        else:
            periods = [(first, None)]
        self.gp_periods = periods
        practices = [pr.code for pr in self.world.practices]
        for number, (start, end) in enumerate(periods):
            code = p.practice_code if number == len(periods) - 1 else rng.choice(practices)
            self.rows["gp_registrations"].append(
                {"nhs_number": p.nhs, "practice_code": code, "registered_from": start, "registered_to": end}
            )

    # -- partners and their records -------------------------------------------------------------

    def choose_partners(self):
        p, rng, age = self.p, self.rng, self.p.age_aug31
        partners = set()
        if "gp_none" not in self.s:
            partners.add("GP")
        if p.upn and 4 <= age <= 17:
            chance = 1.0 if p.has_ehcp or self.has("no_attendance") else 0.99 if 5 <= age <= 15 else 0.85
            if rng.random() < chance:
                partners.add("EDUCATION")
        if self.has("no_education_record", "no_education_age4"):
            partners.discard("EDUCATION")
        for agency, chance, min_age in (
            ("COMMUNITY_HEALTH", 0.75, 0),
            ("ACUTE_HEALTH", 0.3, 0),
            ("MENTAL_HEALTH", 0.35, 8),
            ("POLICE", 0.25, 10),
            ("YJS", 0.1, 10),
            ("EDT", 0.1, 0),
            ("EARLY_HELP", 0.35, 0),
        ):
            if age >= min_age and rng.random() < chance:
                partners.add(agency)
        if self.has("agency_not_on_plan", "visit_overload", "visit_load_joint", "visit_load_week_boundary"):
            partners.add("COMMUNITY_HEALTH")
        if "agency_flag_closed" in self.s:
            partners.add("EARLY_HELP")
        if self.has("flag_missing_partner", "cin_flag_ends_tomorrow"):
            partners.add("COMMUNITY_HEALTH")
        if self.has("pp_no_meeting", "pp_meeting_late", "pp_agency_lacks", "pp_meeting_edge", "pp_flag_recent"):
            partners.add("ACUTE_HEALTH")
        if self.has("self_harm_uninvolved_agency"):
            partners.add("EDT")
        if self.has("self_harm_unshared") and not partners & {"MENTAL_HEALTH", "ACUTE_HEALTH"}:
            partners.add("ACUTE_HEALTH")
        if self.has("dob_swapped", "dob_blank") and len(partners) < 2:
            partners.add("COMMUNITY_HEALTH")
        self.partners = partners

    def partner_records(self, allow_dob_noise: bool = True):
        p = self.p
        if self.has("dob_swapped", "dob_blank", "twin_in_index"):
            allow_dob_noise = False  # the planted record is the only DOB story for this child
        for agency in sorted(self.partners):
            record = agency_record(self.rng, agency, p, allow_dob_noise=allow_dob_noise)
            if agency == "EDUCATION" and record["upn"] is None:
                record["upn"] = p.upn
            self.records[agency] = record
        candidates = [a for a in sorted(self.records) if a != "EDUCATION"] or sorted(self.records)
        if "dob_swapped" in self.s and candidates:
            # prefer a record that holds an identifier (the planted slip is then linked by it)
            candidates = [
                a for a in candidates if self.records[a]["nhs_number"] or self.records[a]["la_person_id"]
            ] or candidates
            self.planted_identity_record = self.rng.choice(candidates)
            record = self.records[self.planted_identity_record]
            record["dob"] = swapped_day_month(p.dob) or date(p.dob.year + 1, p.dob.month, min(p.dob.day, 28))
        if "dob_blank" in self.s and candidates:
            self.planted_identity_record = candidates[-1]
            self.records[candidates[-1]]["dob"] = None
        if "nhs_with_spaces" in self.s:
            for agency in ("GP", "COMMUNITY_HEALTH", "ACUTE_HEALTH", "MENTAL_HEALTH"):
                if agency in self.records:
                    nhs = p.nhs
                    self.records[agency]["nhs_number"] = f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
                    break
        self.rows["agency_records"].extend(self.records[a] for a in sorted(self.records))
        self.sibling_and_twin_records()

    def sibling_and_twin_records(self):
        """Siblings (and a twin) appear in partner indexes: same surname and postcode, not this child."""
        p, rng = self.p, self.rng
        relatives = []
        self.relatives_truth = []
        for number, _ in enumerate(getattr(self, "siblings", [])):
            if rng.random() < 0.5:
                sibling_dob = p.dob + timedelta(days=rng.choice([-1, 1]) * rng.randint(300, 2500))
                if sibling_dob < self.D - 30 * DAY:
                    relatives.append((number, sibling_dob, None))
        if "twin_in_index" in self.s:
            relatives.append((3, p.dob, "twin"))
        for number, dob, kind in relatives:
            sex = rng.choice("MF")
            forename, _ = random_person_name(rng, sex)
            index = 10_000_000 + p.index * 4 + number
            relative = Person(
                index,
                dob,
                sex,
                forename,
                p.surname,
                p.postcode,
                synthetic_nhs_number(SIBLING_NHS_SERIAL_BASE + p.index * 4 + number),
                None,
                None,
                p.practice_code,
            )
            record = agency_record(rng, "GP", relative, allow_dob_noise=False)
            record.update(forename=forename, surname=p.surname, dob=dob, postcode=p.postcode)
            if kind == "twin":
                record["nhs_number"] = None
            self.extra["agency_records"].append(record)
            # Truth: this record is another child of the household (unknown to social care).
            self.relatives_truth.append(
                {
                    "agency": record["agency"],
                    "agency_record_id": record["agency_record_id"],
                    "person_id": p.person_id,
                    "relationship": "TWIN" if kind == "twin" else "SIBLING",
                    "known_to_social_care": False,
                }
            )
            if kind is None:
                self.extra["gp_registrations"].append(
                    {
                        "nhs_number": relative.nhs,
                        "practice_code": p.practice_code,
                        "registered_from": dob + 14 * DAY,
                        "registered_to": None,
                    }
                )

    def flag(self, agency: str, flag_type: str, start: date, end: date | None = None, value: str | None = None):
        record = self.records[agency]
        self.rows["agency_flags"].append(
            {
                "agency": agency,
                "agency_record_id": record["agency_record_id"],
                "flag_type": flag_type,
                "flag_value": value,
                "start_date": start,
                "end_date": end,
                "recorded_date": start,
            }
        )
        if start <= self.D and (end is None or end > self.D):
            self.flagged.add(agency)

    def partner_flags(self):
        rng, p = self.rng, self.p
        cin_flag_start = lambda: self.plan_start + timedelta(days=rng.randint(1, 20))
        partners = sorted(self.partners)
        no_flag_agencies = {"EDT"} if "self_harm_uninvolved_agency" in self.s else set()
        if "agency_flag_closed" in self.s:
            no_flag_agencies.add("EARLY_HELP")
            closed_start = self.plan_start + 3 * DAY
            self.flag(
                "EARLY_HELP",
                "CIN",
                closed_start,
                closed_start + timedelta(days=max(1, (self.D - closed_start).days // 2)),
            )
        if p.has_ehcp:
            if "ehcp_ceased_today" in self.s:
                cin_partners = []
            else:
                cin_partners = [a for a in partners if a not in no_flag_agencies]
                if "flag_missing_partner" in self.s and cin_partners:
                    cin_partners.remove(rng.choice(cin_partners))
            ends_tomorrow = rng.choice(cin_partners) if "cin_flag_ends_tomorrow" in self.s and cin_partners else None
            for agency in cin_partners:
                self.flag(agency, "CIN", cin_flag_start(), self.D + DAY if agency == ends_tomorrow else None)
            if "EDUCATION" in self.records and "ehcp_ceased_today" not in self.s:
                self.flag("EDUCATION", "EHCP", self.D - timedelta(days=rng.randint(100, 900)))
        else:
            for agency in partners:
                if agency not in no_flag_agencies and rng.random() < 0.45:
                    self.flag(agency, "CIN", cin_flag_start())
        if "agency_not_on_plan" in self.s and "COMMUNITY_HEALTH" not in self.flagged:
            self.flag("COMMUNITY_HEALTH", "CIN", cin_flag_start())
        self.social_worker_flags(no_flag_agencies)

    def social_worker_flags(self, excluded: set[str]):
        """Partners that record the child's social worker, updated a few days after each change."""
        rng = self.rng
        holders = [
            a
            for a in ("GP", "EDUCATION", "COMMUNITY_HEALTH")
            if a in self.records
            and a not in excluded
            and rng.random() < {"GP": 0.5, "EDUCATION": 0.6, "COMMUNITY_HEALTH": 0.4}[a]
        ]
        stale_plant = self.has("sw_stale_flag", "sw_stale_edge", "sw_never_allocated_flag")
        if stale_plant and not holders:
            holders = [a for a in sorted(self.records) if a not in excluded][:1]
        self.sw_flag_holders = holders
        stale_holder = holders[0] if stale_plant and holders else None
        for agency in holders:
            for number, (worker, start, end) in enumerate(self.allocations):
                if end is not None and end < self.D - 730 * DAY:
                    continue
                flag_start = start + timedelta(days=rng.randint(1, 6))
                if flag_start > self.D:
                    continue
                flag_end = None
                if end is not None:
                    flag_end = end + timedelta(days=rng.randint(1, 5))
                    if number == len(self.allocations) - 1:  # last worker left, nobody new yet
                        flag_end = min(end + 3 * DAY, self.D)
                    if flag_end > self.D:
                        flag_end = None
                is_previous = number == len(self.allocations) - 2
                if agency == stale_holder and is_previous and self.has("sw_stale_flag", "sw_stale_edge"):
                    flag_end = None  # never updated
                if (
                    agency == stale_holder
                    and number == len(self.allocations) - 1
                    and self.has("sw_stale_flag", "sw_stale_edge")
                ):
                    continue  # the new worker was never recorded
                self.flag(agency, "SOCIAL_WORKER", flag_start, flag_end, worker)
        if "sw_never_allocated_flag" in self.s and stale_holder:
            allocated = {w for w, _, _ in self.allocations}
            stranger = next(w for w in self.world.social_workers[::-1] if w not in allocated)
            self.flag(stale_holder, "SOCIAL_WORKER", self.days_ago(40, 120), None, stranger)

    # -- social workers -------------------------------------------------------------------------

    def social_worker_allocations(self):
        rng, D = self.rng, self.D
        workers = self.world.social_workers
        pool = rng.sample(workers, 5)
        window_start = D - 364 * DAY
        first = self.referral + timedelta(days=rng.randint(0, 3))
        if "sw_three_in_year" in self.s:
            c1, c2 = self.days_ago(250, 330), self.days_ago(40, 200)
            spans = [(pool[0], first, c1), (pool[1], c1, c2), (pool[2], c2, None)]
            if rng.random() < 0.3:
                c3 = c2 + timedelta(days=(D - c2).days // 2)
                spans = spans[:2] + [(pool[2], c2, c3), (pool[3], c3, None)]
        elif "sw_two_in_year" in self.s:
            spans = [
                (pool[0], first, self.days_ago(60, 300)),
            ]
            spans.append((pool[1], spans[0][2], None))
        elif "sw_back_to_first" in self.s:
            c1, c2 = self.days_ago(200, 300), self.days_ago(30, 150)
            spans = [(pool[0], first, c1), (pool[1], c1, c2), (pool[0], c2, None)]
        elif self.has("sw_unallocated", "sw_unallocated_edge"):
            left = self.days_ago(15, 80) if "sw_unallocated" in self.s else self.wd.add(D, -5)
            spans = [(pool[0], first, left)]
        elif self.has("sw_stale_flag", "sw_stale_edge", "sw_never_allocated_flag"):
            change = self.days_ago(30, 120) if not self.has("sw_stale_edge") else self.wd.add(D, -10)
            spans = [(pool[0], first, change), (pool[1], change, None)]
        else:
            # Turnover as found in practice: an allocation lasts months; at most two in a year.
            current_start = max(first, self.days_ago(20, 700))
            spans = [(pool[1], current_start, None)]
            if current_start > first:
                previous_start = first
                if current_start > window_start:
                    previous_start = max(
                        first, min(current_start - timedelta(days=rng.randint(120, 600)), window_start - 10 * DAY)
                    )
                spans.insert(0, (pool[0], previous_start, current_start))
                if previous_start > first:
                    spans.insert(0, (pool[2], first, previous_start))
        self.allocations = [(w, s, e) for w, s, e in spans if e is None or e > s]
        for worker, start, end in self.allocations:
            self.rows["ssd_involvements"].append(
                {
                    "invo_involvements_id": self.new_id("INV"),
                    "invo_professional_id": worker,
                    "invo_person_id": self.p.person_id,
                    "invo_professional_role_id": "CW",
                    "invo_involvement_start_date": start,
                    "invo_involvement_end_date": end,
                    "invo_worker_change_reason": rng.choice(SOCIAL_WORKER_CHANGE_REASONS) if end else None,
                }
            )

    # -- social care case records ------------------------------------------------------------------

    def assessment(self, referral_id: str | None, start: date, with_self_harm: bool, factors: list[str] | None = None):
        assessment_id = self.new_id("ASM")
        self.rows["ssd_cin_assessments"].append(
            {
                "cina_assessment_id": assessment_id,
                "cina_person_id": self.p.person_id,
                "cina_referral_id": referral_id,
                "cina_assessment_start_date": start,
                "cina_assessment_auth_date": start + timedelta(days=self.rng.randint(10, 30)),
                "cina_assessment_child_seen": True,
            }
        )
        chosen = factors if factors is not None else sorted(set(self.rng.sample(FACTOR_POOL, self.rng.randint(1, 3))))
        if with_self_harm:
            chosen = sorted(set(chosen) | {"15A", "4A"})
        self.rows["ssd_assessment_factors"].append(
            {"cinf_assessment_id": assessment_id, "cinf_assessment_factors_json": chosen}
        )

    def episodes_assessments_and_plans(self):
        p, rng = self.p, self.rng
        if rng.random() < 0.2 and self.referral - p.dob > timedelta(days=900):
            earlier = self.referral - timedelta(days=rng.randint(400, 800))
            earlier_id = self.new_id("REF")
            closed = earlier + timedelta(days=rng.randint(120, 300))
            self.rows["ssd_cin_episodes"].append(
                {
                    "cine_referral_id": earlier_id,
                    "cine_person_id": p.person_id,
                    "cine_referral_date": earlier,
                    "cine_cin_primary_need_code": rng.choice(NEED_CODES),
                    "cine_close_date": closed,
                    "cine_close_reason": rng.choice(CLOSE_REASONS),
                }
            )
            self.assessment(earlier_id, earlier + DAY, with_self_harm=False)
            self.rows["ssd_cin_plans"].append(
                {
                    "cinp_cin_plan_id": self.new_id("CINP"),
                    "cinp_referral_id": earlier_id,
                    "cinp_person_id": p.person_id,
                    "cinp_cin_plan_start_date": earlier + 20 * DAY,
                    "cinp_cin_plan_end_date": closed,
                }
            )
        self.rows["ssd_cin_episodes"].append(
            {
                "cine_referral_id": self.referral_id,
                "cine_person_id": p.person_id,
                "cine_referral_date": self.referral,
                "cine_cin_primary_need_code": "N2" if p.non_verbal else rng.choice(NEED_CODES),
                "cine_close_date": None,
                "cine_close_reason": None,
            }
        )
        self.assessment(self.referral_id, self.referral + timedelta(days=rng.randint(0, 3)), with_self_harm=False)
        self.rows["ssd_cin_plans"].append(
            {
                "cinp_cin_plan_id": self.plan_id,
                "cinp_referral_id": self.referral_id,
                "cinp_person_id": p.person_id,
                "cinp_cin_plan_start_date": self.plan_start,
                "cinp_cin_plan_end_date": None,
            }
        )
        if "self_harm_factor_old" in self.s:
            self.assessment(self.referral_id, add_months(self.D, -14), with_self_harm=True)

    def meeting(
        self,
        meeting_type: str,
        scheduled: date,
        status: str,
        invitees: list[tuple[str, str | None, str | None]],
        minutes: date | None = None,
        cancelled: date | None = None,
        child_attended: bool | None = None,
    ) -> str:
        meeting_id = self.new_id("MTG")
        self.rows["meetings"].append(
            {
                "meeting_id": meeting_id,
                "person_id": self.p.person_id,
                "meeting_type": meeting_type,
                "scheduled_date": scheduled,
                "status": status,
                "held_date": scheduled if status == "HELD" else None,
                "cancelled_date": cancelled,
                "minutes_shared_date": minutes,
                "child_attended": child_attended,
            }
        )
        invited = scheduled - timedelta(days=self.rng.randint(7, 14))
        for role, agency, professional in invitees:
            attended = None if status != "HELD" else self.rng.random() < (0.95 if role == "SOCIAL_WORKER" else 0.75)
            self.rows["meeting_invitations"].append(
                {
                    "meeting_id": meeting_id,
                    "invitee_role": role,
                    "agency": agency,
                    "professional_id": professional,
                    "invited_date": invited,
                    "attended": attended,
                }
            )
        return meeting_id

    def professional_invitee(self, agency: str, day: date) -> tuple[str, str, str | None]:
        role = INVITEE_ROLE[agency]
        if agency == "COMMUNITY_HEALTH" and self.age_on(day) < 5:
            role = "HEALTH_VISITOR"
        professional = self.worker_on(day) if agency == "SOCIAL_CARE" else self.staff(agency)
        return role, agency, professional

    def cin_meeting_invitees(self, day: date, drop_gp: bool = False) -> list[tuple]:
        agencies = {"SOCIAL_CARE"} | self.flagged
        if "EDUCATION" in self.records:
            agencies.add("EDUCATION")
        if self.gp_registered_on(day) and not drop_gp:
            agencies.add("GP")
        else:
            agencies.discard("GP")
        invitees = [self.professional_invitee(a, day) for a in sorted(agencies)]
        invitees.append(("MOTHER", None, None))
        if self.father_role and not self.has("father_no_voice", "father_voice_day_179"):
            invitees.append((self.father_role, None, None))
        if self.age_on(day) >= 10:
            invitees.append(("CHILD", None, None))
        return invitees

    def minutes_for(self, held: date) -> date | None:
        shared = self.wd.add(held, self.rng.randint(1, 4))
        return shared if shared <= self.D else None

    def cin_meetings(self):
        rng, D = self.rng, self.D
        dates = []
        day = self.working_day_near(max(self.plan_start + 10 * DAY, D - 730 * DAY))
        stop_after = D
        if "review_overdue" in self.s:
            stop_after = D - timedelta(days=84 + rng.randint(0, 30))
        while day <= stop_after:
            dates.append(day)
            day = self.working_day_near(day + timedelta(days=rng.randint(42, 70)))
        if "review_edge" in self.s:
            dates = [d for d in dates if d < D - 125 * DAY] + [D - 83 * DAY]
        if "new_plan_no_review" in self.s:
            dates = []
        held_ids = []
        for number, held in enumerate(dates):
            meeting_type = "CIN_MEETING" if number == 0 or number % 3 else "CIN_REVIEW"
            attended = self.age_on(held) >= 10 and rng.random() < 0.4
            meeting_id = self.meeting(
                meeting_type,
                held,
                "HELD",
                self.cin_meeting_invitees(held),
                minutes=self.minutes_for(held),
                child_attended=attended,
            )
            held_ids.append(meeting_id)
            if attended and "no_child_voice" not in self.s and "child_voice_day_89" not in self.s:
                self.voice_row(held, "SOCIAL_CARE", "CHILD_ATTENDED_MEETING", "At CiN meeting")
        meetings = {m["meeting_id"]: m for m in self.rows["meetings"]}
        in_window = [m for m in (meetings[i] for i in held_ids) if m["held_date"] >= D - 364 * DAY]
        if "minutes_late" in self.s and in_window:
            target = in_window[-2] if len(in_window) > 1 else in_window[-1]
            target["minutes_shared_date"] = self.wd.add(target["held_date"], 6)
            if target["minutes_shared_date"] > D:
                target["minutes_shared_date"] = None
        if "minutes_not_shared" in self.s:
            self.meeting(
                "CIN_MEETING",
                self.wd.previous_working_day(D - 30 * DAY),
                "HELD",
                self.cin_meeting_invitees(D - 30 * DAY),
                minutes=None,
                child_attended=False,
            )
        if "minutes_bank_holiday_edge" in self.s:
            holiday = max(h for h in self.wd.bank_holidays if D - 330 * DAY <= h <= D - 20 * DAY)
            held = self.wd.previous_working_day(holiday - DAY)
            self.meeting(
                "CIN_MEETING",
                held,
                "HELD",
                self.cin_meeting_invitees(held),
                minutes=self.wd.add(held, 5),
                child_attended=False,
            )
        if "minutes_pending" in self.s:
            held = self.wd.add(D, -2)
            self.meeting(
                "CIN_MEETING", held, "HELD", self.cin_meeting_invitees(held), minutes=None, child_attended=False
            )
        if "review_overdue" in self.s:
            cancelled_on = self.wd.previous_working_day(D - 35 * DAY)
            self.meeting(
                "CIN_REVIEW",
                cancelled_on + 2 * DAY,
                "CANCELLED",
                self.cin_meeting_invitees(cancelled_on),
                cancelled=cancelled_on,
            )
        if "gp_meeting_cancelled" in self.s:
            cancelled_on = self.wd.previous_working_day(D - 42 * DAY)
            self.meeting("CIN_REVIEW", cancelled_on + 2 * DAY, "CANCELLED", [], cancelled=cancelled_on)
        next_day = self.working_day_near(max(day, D + timedelta(days=rng.randint(1, 30))))
        self.meeting("CIN_REVIEW", next_day, "SCHEDULED", self.cin_meeting_invitees(next_day))
        # GP left off the latest review: the planted GP_NOT_INVITED.
        held = [
            m
            for m in self.rows["meetings"]
            if m["meeting_type"] in ("CIN_MEETING", "CIN_REVIEW") and m["status"] == "HELD"
        ]
        if "gp_not_invited" in self.s and held:
            latest = max(held, key=lambda m: (m["held_date"], m["meeting_id"]))
            self.rows["meeting_invitations"] = [
                i
                for i in self.rows["meeting_invitations"]
                if not (i["meeting_id"] == latest["meeting_id"] and i["invitee_role"] == "GP")
            ]
        if held:
            latest = max(held, key=lambda m: (m["held_date"], m["meeting_id"]))
            self.last_cin_meeting_agencies = {
                i["agency"]
                for i in self.rows["meeting_invitations"]
                if i["meeting_id"] == latest["meeting_id"] and i["agency"]
            }

    def section_47(self):
        rng, D, s = self.rng, self.D, self.s
        plants = {
            "icpc_cancelled_unshared": "cancelled",
            "icpc_share_late": "cancelled",
            "icpc_share_edge": "cancelled",
            "icpc_pending": "cancelled",
            "s47_nfa_unshared": "nfa",
            "s47_nfa_old": "nfa",
        }
        outcome = next((plants[name] for name in plants if name in s), None)
        if outcome is None:
            if rng.random() >= 0.10:
                return
            outcome = rng.choice(["nfa", "nfa", "icpc_held", "cancelled"])
        earliest = max(self.referral + 5 * DAY, D - 330 * DAY)
        if (D - 30 * DAY - earliest).days < 5:
            earliest = D - 60 * DAY
        strategy = self.wd.next_working_day(
            earliest + timedelta(days=rng.randint(0, max(0, (D - 30 * DAY - earliest).days)))
        )
        if "s47_nfa_old" in s:
            strategy = self.wd.next_working_day(D - 420 * DAY)
        if "icpc_pending" in s:
            strategy = self.wd.add(D, -12)
        if "icpc_share_edge" in s:
            holiday = max(h for h in self.wd.bank_holidays if D - 300 * DAY <= h <= D - 10 * DAY)
            cancel_on = self.wd.previous_working_day(holiday - DAY)
            strategy = self.wd.add(cancel_on, -14)
        partners = ["POLICE"] + [a for a in ("GP", "EDUCATION", "COMMUNITY_HEALTH") if a in self.records]
        strategy_invitees = [self.professional_invitee("SOCIAL_CARE", strategy)] + [
            (INVITEE_ROLE[a], a, self.staff(a)) for a in partners
        ]
        self.meeting("STRATEGY", strategy, "HELD", strategy_invitees, minutes=self.wd.add(strategy, 1))
        s47_id, start = self.new_id("S47"), strategy + timedelta(days=rng.randint(1, 2))
        enquiry = {
            "s47e_s47_enquiry_id": s47_id,
            "s47e_referral_id": self.referral_id,
            "s47e_person_id": self.p.person_id,
            "s47e_s47_start_date": start,
            "s47e_s47_end_date": None,
            "s47e_s47_nfa": False,
        }
        self.rows["ssd_s47_enquiry"].append(enquiry)
        told_late = rng.choice(partners) if "icpc_share_late" in s else None
        never_told = rng.choice(partners) if self.has("icpc_cancelled_unshared", "s47_nfa_unshared") else None

        def tell(agency: str, topic: str, event: date, related: str):
            if agency == never_told or "s47_nfa_old" in s or "icpc_pending" in s:
                return
            if "icpc_share_edge" in s:
                shared = self.wd.add(event, 2)
            elif agency == told_late:
                shared = self.wd.add(event, 3)
            else:
                shared = self.wd.add(event, rng.randint(0, 2))
            if shared <= D:
                self.share("SOCIAL_CARE", agency, topic, event, shared, related)

        if outcome == "nfa":
            end = min(self.wd.add(start, rng.randint(5, 15)), self.wd.add(D, -5))
            enquiry.update(s47e_s47_end_date=end, s47e_s47_nfa=True)
            for agency in partners:
                tell(agency, "S47_OUTCOME", end, s47_id)
            return
        target = self.wd.add(strategy, 15)
        icpc_invitees = (
            strategy_invitees
            + [("MOTHER", None, None)]
            + (
                [(self.father_role, None, None)]
                if self.father_role and not self.has("father_no_voice", "father_voice_day_179")
                else []
            )
        )
        icpc_row = {
            "icpc_icpc_id": self.new_id("ICPC"),
            "icpc_s47_enquiry_id": s47_id,
            "icpc_person_id": self.p.person_id,
            "icpc_icpc_target_date": target,
            "icpc_icpc_date": None,
        }
        if outcome == "icpc_held" and target <= D:
            meeting_id = self.meeting("ICPC", target, "HELD", icpc_invitees, minutes=self.minutes_for(target))
            icpc_row.update(icpc_icpc_meeting_id=meeting_id, icpc_icpc_date=target)
            enquiry["s47e_s47_end_date"] = target
        else:
            cancel_on = self.wd.add(target, -rng.randint(1, 4))
            if "icpc_share_edge" in s:
                cancel_on = self.wd.previous_working_day(
                    max(h for h in self.wd.bank_holidays if D - 300 * DAY <= h <= D - 10 * DAY) - DAY
                )
            if "icpc_pending" in s:
                cancel_on = self.wd.add(D, -1)
            meeting_id = self.meeting("ICPC", target, "CANCELLED", icpc_invitees, cancelled=cancel_on)
            icpc_row["icpc_icpc_meeting_id"] = meeting_id
            enquiry["s47e_s47_end_date"] = cancel_on
            for agency in partners:
                tell(agency, "ICPC_CANCELLED", cancel_on, meeting_id)
        self.rows["ssd_initial_cp_conference"].append(icpc_row)

    def share(
        self, from_agency: str, to_agency: str, topic: str, event: date, shared: date, related: str | None = None
    ):
        self.rows["information_sharing"].append(
            {
                "share_id": self.new_id("SHR"),
                "person_id": self.p.person_id,
                "from_agency": from_agency,
                "to_agency": to_agency,
                "topic": topic,
                "event_date": event,
                "shared_date": shared,
                "related_id": related,
            }
        )

    def perplexing_presentation(self):
        rng, D, s = self.rng, self.D, self.s
        plants = ("pp_no_meeting", "pp_meeting_late", "pp_agency_lacks", "pp_meeting_edge", "pp_flag_recent")
        if not self.has(*plants):
            return
        flagged_on = self.wd.add(D, -10) if "pp_flag_recent" in s else self.wd.next_working_day(self.days_ago(60, 300))
        self.flag("ACUTE_HEALTH", "PERPLEXING_PRESENTATION", flagged_on)
        to_tell = ["SOCIAL_CARE"] + [a for a in ("GP", "EDUCATION") if a in self.records]
        untold = rng.choice(to_tell) if "pp_agency_lacks" in s else None
        for agency in to_tell:
            if agency == untold:
                continue
            sender = "ACUTE_HEALTH" if agency == "SOCIAL_CARE" else "SOCIAL_CARE"
            self.share(
                sender, agency, "PERPLEXING_PRESENTATION", flagged_on, self.wd.add(flagged_on, rng.randint(1, 3))
            )
        if self.has("pp_no_meeting", "pp_flag_recent"):
            return
        offset = 21 if "pp_meeting_late" in s else 20 if "pp_meeting_edge" in s else rng.randint(5, 18)
        held = self.wd.add(flagged_on, offset)
        invitees = [
            self.professional_invitee(a, held)
            for a in ("SOCIAL_CARE", "ACUTE_HEALTH", "GP", "EDUCATION")
            if a == "SOCIAL_CARE" or a in self.records
        ]
        self.meeting("PP_CONSENSUS", held, "HELD", invitees, minutes=self.minutes_for(held))

    def self_harm(self):
        rng, D = self.rng, self.D
        plant = self.has("self_harm_unshared")
        if not self.has("self_harm_unshared", "self_harm_uninvolved_agency"):
            if "self_harm_factor_old" in self.s or rng.random() >= 0.06:
                return
        sources = [a for a in ("MENTAL_HEALTH", "ACUTE_HEALTH") if a in self.records]
        # a planted gap needs social care itself among the agencies that could be left untold
        source = rng.choice(sources) if plant else rng.choice(sources + ["SOCIAL_CARE"])
        known_on = self.wd.next_working_day(self.days_ago(40, 300))
        if source == "SOCIAL_CARE":
            self.assessment(self.referral_id, known_on, with_self_harm=True)
        else:
            self.flag(source, "SELF_HARM", known_on)
        recipients = [
            a
            for a in ["SOCIAL_CARE"] + sorted(self.records)
            if a != source and not ("self_harm_uninvolved_agency" in self.s and a == "EDT")
        ]
        untold = None
        if plant:
            involved = [a for a in recipients if a == "SOCIAL_CARE" or a in self.flagged]
            untold = rng.choice(involved) if involved else None
        for agency in recipients:
            if agency != untold:
                self.share(source, agency, "SELF_HARM", known_on, min(D, known_on + timedelta(days=rng.randint(0, 5))))

    def plan_actions(self):
        rng, D = self.rng, self.D
        if "plan_no_actions" in self.s:
            return
        agencies = {"SOCIAL_CARE"} | self.flagged | self.last_cin_meeting_agencies
        if "agency_not_on_plan" in self.s:
            candidates = sorted(a for a in self.flagged if a != "SOCIAL_CARE")
            agencies.discard(rng.choice(candidates))
        actions = []
        for agency in sorted(agencies):
            text, outcome, role = rng.choice(ACTIONS_BY_AGENCY[agency])
            professional = self.worker_on(D) if agency == "SOCIAL_CARE" else self.staff(agency)
            actions.append(
                {
                    "owner_agency": agency,
                    "owner_role": role,
                    "owner_professional_id": professional,
                    "action_text": text,
                    "outcome_measure": outcome,
                    "status": "OPEN",
                    "due_date": D + timedelta(days=rng.randint(5, 90)),
                    "completed_date": None,
                }
            )
            if rng.random() < 0.5:
                done_on = self.days_ago(5, 120)
                actions.append(
                    {
                        "owner_agency": agency,
                        "owner_role": role,
                        "owner_professional_id": professional,
                        "action_text": text,
                        "outcome_measure": outcome,
                        "status": "DONE",
                        "due_date": done_on + timedelta(days=rng.randint(0, 10)),
                        "completed_date": done_on,
                    }
                )
        open_actions = [a for a in actions if a["status"] == "OPEN"]
        target = rng.choice(open_actions)
        if "action_missing_owner" in self.s:
            actions.append(
                {
                    "owner_agency": None,
                    "owner_role": None,
                    "owner_professional_id": None,
                    "action_text": "Arrange a family group conference",
                    "outcome_measure": "Conference held",
                    "status": "OPEN",
                    "due_date": D + 20 * DAY,
                    "completed_date": None,
                }
            )
        if "action_missing_due" in self.s:
            target["due_date"] = None
        if "action_missing_outcome" in self.s:
            target["outcome_measure"] = None
        if "action_overdue" in self.s:
            target["due_date"] = self.wd.add(D, -11)
        if "action_overdue_edge" in self.s:
            target["due_date"] = self.wd.add(D, -10)
        if "dropped_action_incomplete" in self.s:
            actions.append(
                {
                    "owner_agency": "SOCIAL_CARE",
                    "owner_role": None,
                    "owner_professional_id": None,
                    "action_text": "Explore a nursery place",
                    "outcome_measure": None,
                    "status": "DROPPED",
                    "due_date": None,
                    "completed_date": None,
                }
            )
        for action in actions:
            action.update(action_id=self.new_id("ACT"), plan_id=self.plan_id, person_id=self.p.person_id)
            self.rows["plan_actions"].append(action)

    # -- voice ------------------------------------------------------------------------------------

    def voice_row(self, day: date, agency: str, source: str, method: str | None = None):
        self.rows["voice_records"].append(
            {
                "voice_id": self.new_id("VOI"),
                "person_id": self.p.person_id,
                "recorded_date": day,
                "agency": agency,
                "voice_source": source,
                "method": method or self.rng.choice(VOICE_METHODS),
            }
        )

    def voice_series(self, source: str, last: date, first: date, gap: tuple[int, int]):
        day = last
        while day >= first or day == last:  # the latest one even if it predates the plan
            agency = (
                "SOCIAL_CARE"
                if self.rng.random() < 0.8
                else self.rng.choice(["EDUCATION", "COMMUNITY_HEALTH", "EARLY_HELP"])
            )
            self.voice_row(day, agency, source)
            day -= timedelta(days=self.rng.randint(*gap))

    def voice(self):
        rng, D, s = self.rng, self.D, self.s
        first = max(self.plan_start, D - 400 * DAY)
        observed = self.p.non_verbal or self.age_on(D) < 3
        child_source = "CHILD_OBSERVATION" if observed else "CHILD_DIRECT"
        if "no_child_voice" in s:
            if rng.random() < 0.7:
                self.voice_series(child_source, D - timedelta(days=90 + rng.randint(0, 60)), first, (30, 60))
        elif "child_voice_day_89" in s:
            self.voice_series(child_source, D - 89 * DAY, first, (30, 60))
        else:
            self.voice_series(child_source, self.days_ago(0, 25), first, (25, 45))
            if not observed and rng.random() < 0.15:
                self.voice_row(self.days_ago(10, 200), "SOCIAL_CARE", "CHILD_ADVOCATE", "Advocate report")
        self.voice_series("MOTHER", self.days_ago(0, 30), first, (25, 50))
        if self.father_role:
            if "father_no_voice" in s:
                self.voice_series(self.father_role, D - timedelta(days=181 + rng.randint(0, 150)), first, (40, 90))
            elif "father_voice_day_179" in s:
                self.voice_series(self.father_role, D - 179 * DAY, first, (40, 90))
            else:
                self.voice_series(self.father_role, self.days_ago(0, 60), first, (40, 70))

    # -- shares, visits, differences ------------------------------------------------------------

    def routine_shares(self):
        rng, D = self.rng, self.D
        for meeting in self.rows["meetings"]:
            if (
                meeting["meeting_type"] == "CIN_REVIEW"
                and meeting["status"] == "HELD"
                and meeting["held_date"] >= D - 364 * DAY
            ):
                for agency in ("GP", "EDUCATION"):
                    if agency in self.records:
                        shared = self.wd.add(meeting["held_date"], rng.randint(1, 4))
                        if shared <= D:
                            self.share("SOCIAL_CARE", agency, "PLAN", meeting["held_date"], shared, self.plan_id)
        for worker, start, _ in self.allocations[1:]:
            if start >= D - 364 * DAY:
                for agency in getattr(self, "sw_flag_holders", []):
                    shared = self.wd.add(start, rng.randint(0, 3))
                    if shared <= D:
                        self.share("SOCIAL_CARE", agency, "SOCIAL_WORKER_CHANGE", start, shared, worker)
        if "POLICE" in self.records:
            for _ in range(rng.randint(0, 2)):
                event = self.wd.next_working_day(self.days_ago(10, 300))
                self.share("POLICE", "SOCIAL_CARE", "OTHER", event, self.wd.add(event, rng.randint(0, 2)))
        if "share_late" in self.s:
            event = self.wd.next_working_day(self.days_ago(30, 200))
            self.share(
                "SOCIAL_CARE",
                "GP" if "GP" in self.records else "EDUCATION",
                "PLAN",
                event,
                self.wd.add(event, 7),
                self.plan_id,
            )

    def contact(self, day: date, agency: str, contact_type: str, joint: str | None = None):
        professional = self.worker_on(day) if agency == "SOCIAL_CARE" else self.staff(agency)
        self.rows["family_contacts"].append(
            {
                "contact_id": self.new_id("CON"),
                "person_id": self.p.person_id,
                "agency": agency,
                "professional_id": professional,
                "contact_date": day,
                "contact_type": contact_type,
                "joint_with_agency": joint,
            }
        )

    def visits_and_contacts(self):
        rng, D = self.rng, self.D
        home_visits_in_week: dict[str, int] = defaultdict(int)
        first = max(self.plan_start, D - 400 * DAY)
        planted_week = None
        if self.has("visit_overload", "visit_load_joint", "visit_load_one_agency", "visit_load_week_boundary"):
            monday = D - timedelta(days=rng.randint(20, 70))
            planted_week = monday - timedelta(days=monday.weekday())
        near_plant = lambda d: planted_week is not None and planted_week - 7 * DAY <= d < planted_week + 14 * DAY
        day = self.working_day_near(first + timedelta(days=rng.randint(3, 15)))
        while day <= D:  # statutory visits by the social worker, roughly every 2-4 weeks
            seen = rng.random() < 0.95
            self.rows["ssd_cin_visits"].append(
                {
                    "cinv_cin_visit_id": self.new_id("VIS"),
                    "cinv_person_id": self.p.person_id,
                    "cinv_cin_visit_date": day,
                    "cinv_cin_visit_seen": seen,
                    "cinv_cin_visit_seen_alone": seen and self.age_on(day) >= 8 and rng.random() < 0.7,
                }
            )
            kind = "HOME_VISIT" if rng.random() < 0.85 and not near_plant(day) else "SCHOOL_VISIT"
            self.contact(day, "SOCIAL_CARE", kind)
            if kind == "HOME_VISIT":
                home_visits_in_week[day.strftime("%G-W%V")] += 1
            day = self.working_day_near(day + timedelta(days=rng.randint(14, 28)))
        for agency, gap, home_share in (("COMMUNITY_HEALTH", (30, 60), 0.3), ("EARLY_HELP", (14, 28), 0.7)):
            if agency not in self.records or (agency == "EARLY_HELP" and "agency_flag_closed" in self.s):
                continue
            day = self.working_day_near(first + timedelta(days=rng.randint(1, 20)))
            while day <= D:
                week = day.strftime("%G-W%V")
                wanted = rng.random() < home_share
                if wanted and home_visits_in_week[week] < 2 and not near_plant(day):
                    joint = "SOCIAL_CARE" if agency == "EARLY_HELP" and rng.random() < 0.15 else None
                    self.contact(day, agency, "HOME_VISIT", joint)
                    home_visits_in_week[week] += 1
                else:
                    self.contact(
                        day, agency, "CLINIC" if agency == "COMMUNITY_HEALTH" and rng.random() < 0.6 else "PHONE"
                    )
                day = self.working_day_near(day + timedelta(days=rng.randint(*gap)))
        if planted_week is None:
            return
        week = planted_week
        if "visit_overload" in self.s:
            plan = [(0, "SOCIAL_CARE", None), (2, "COMMUNITY_HEALTH", None), (3, "EARLY_HELP", None)]
        elif "visit_load_joint" in self.s:
            plan = [(0, "SOCIAL_CARE", None), (2, "COMMUNITY_HEALTH", None), (3, "EARLY_HELP", "SOCIAL_CARE")]
        elif "visit_load_one_agency" in self.s:
            plan = [(0, "SOCIAL_CARE", None), (2, "SOCIAL_CARE", None), (4, "SOCIAL_CARE", None)]
        else:
            plan = [(5, "SOCIAL_CARE", None), (6, "COMMUNITY_HEALTH", None), (7, "EARLY_HELP", None)]
        for offset, agency, joint in plan:
            self.contact(week + timedelta(days=offset), agency, "HOME_VISIT", joint)

    def professional_differences(self):
        rng, D, s = self.rng, self.D, self.s
        plants = (
            "difference_stage0_stale",
            "difference_stage_stale",
            "difference_stage0_edge",
            "difference_stage_edge",
        )
        if not self.has(*plants) and rng.random() >= 0.06:
            return
        raised_by = rng.choice(sorted(self.records)) if self.records else "EDUCATION"
        raised = self.wd.next_working_day(self.days_ago(30, 300))
        stage, stage_date, resolved = 0, None, None
        if "difference_stage0_stale" in s:
            raised = self.wd.add(D, -rng.randint(6, 30))
        elif "difference_stage0_edge" in s:
            raised = self.wd.add(D, -5)
        elif "difference_stage_stale" in s:
            stage, stage_date = 2, self.wd.add(D, -rng.randint(11, 40))
            raised = self.wd.add(stage_date, -rng.randint(3, 10))
        elif "difference_stage_edge" in s:
            stage, stage_date = 3, self.wd.add(D, -10)
            raised = self.wd.add(stage_date, -rng.randint(8, 20))
        elif rng.random() < 0.25:  # escalated recently and still live, inside the limit
            stage, stage_date = 1, self.wd.add(D, -rng.randint(1, 8))
            raised = self.wd.add(stage_date, -rng.randint(2, 5))
        else:
            stage = rng.choice([0, 0, 1])
            stage_date = self.wd.add(raised, rng.randint(1, 4)) if stage else None
            resolved = self.wd.add(stage_date or raised, rng.randint(1, 4))
        self.rows["professional_differences"].append(
            {
                "difference_id": self.new_id("DIF"),
                "person_id": self.p.person_id,
                "raised_by_agency": raised_by,
                "about_agency": "SOCIAL_CARE" if raised_by != "SOCIAL_CARE" else "EDUCATION",
                "raised_date": raised,
                "topic": rng.choice(DIFFERENCE_TOPICS),
                "current_stage": stage,
                "stage_date": stage_date,
                "resolved_date": resolved,
            }
        )

    # -- transitions, EHCP, attendance --------------------------------------------------------------

    def transition_plans(self):
        rng, D, p, s = self.rng, self.D, self.p, self.s
        if self.has(
            "transition_none",
            "transition_exact_age",
            "transition_one_day_young",
            "transition_ehcp_year9",
            "transition_year8_ehcp",
        ):
            return
        approaching_16 = add_months(p.dob, 186) <= D
        from_year_9 = p.has_ehcp and p.age_aug31 >= 13
        needed = approaching_16 or from_year_9 or (p.kind == "cin" and p.age_aug31 >= 15 and rng.random() < 0.4)
        if not needed and not (p.non_verbal and p.age_aug31 >= 14 and rng.random() < 0.3):
            return
        start = self.days_ago(100, 700)
        review = self.days_ago(10, 300)
        if "transition_stale_review" in s:
            start, review = self.days_ago(500, 900), D - timedelta(days=rng.randint(420, 470))
        plan_type = "PREPARING_FOR_ADULTHOOD" if p.has_ehcp else "POST_16"
        if "transition_wrong_type" in s:
            plan_type = "HEALTH_TRANSITION"
        elif not needed:
            plan_type = "HEALTH_TRANSITION"
        self.rows["transition_plans"].append(
            {
                "plan_id": self.new_id("TRP"),
                "person_id": p.person_id,
                "plan_type": plan_type,
                "start_date": start,
                "last_review_date": max(review, start),
                "end_date": None,
            }
        )
        if p.non_verbal and plan_type != "HEALTH_TRANSITION" and rng.random() < 0.5:
            self.rows["transition_plans"].append(
                {
                    "plan_id": self.new_id("TRP"),
                    "person_id": p.person_id,
                    "plan_type": "CARE_ACT_TRANSITION",
                    "start_date": start,
                    "last_review_date": None,
                    "end_date": None,
                }
            )

    def ehcp(self):
        p, D = self.p, self.D
        if not p.has_ehcp:
            self.facts.send_flag = False if p.kind == "cin" else None
            return
        start = max(p.dob + timedelta(days=3 * 365 + 30), self.days_ago(200, 2500))
        ceased = D if "ehcp_ceased_today" in self.s else None
        review = max(start, self.days_ago(20, 330))
        self.rows["ehcp_plans"].append(
            {
                "ehcp_id": f"EHCP{p.index:07d}",
                "upn": p.upn,
                "named_plan_start_date": start,
                "ceased_date": ceased,
                "last_review_date": review,
                "school_urn": p.school.urn if p.school else None,
            }
        )
        if "EDUCATION" in self.records and review < D:
            invitees = [("SCHOOL", "EDUCATION", self.staff("EDUCATION")), ("MOTHER", None, None)]
            if p.kind == "cin":
                invitees.insert(0, self.professional_invitee("SOCIAL_CARE", review))
            self.meeting("EHCP_ANNUAL_REVIEW", review, "HELD", invitees, minutes=self.minutes_for(review))
        self.facts.send_flag = not self.has("flag_missing_social_care", "ehcp_ceased_today")

    def attendance(self):
        p, rng, s = self.p, self.rng, self.s
        if not p.upn or not 4 <= p.age_aug31 <= 15 or "no_attendance" in s:
            return
        urn = p.school.urn
        if "attendance_summary_only" in s:
            row, counts = summary_row(self.grid, p.upn, urn, rng.uniform(0.01, 0.06), rng)
            self.rows["attendance_summaries"].append(row)
            self.facts.attendance["current"] = counts
            return
        plan = AttendancePlan(draw_absence_rate(rng, child_in_need=p.kind == "cin"))
        days = self.grid.current_school_days()
        if "attendance_exact_10pct" in s:
            possible = exact_current_possible(self.grid)
            plan.current_missed_exactly, plan.make_possible_multiple_of_ten = (possible - possible % 10) // 10, True
        elif "attendance_just_under" in s:
            plan.current_missed_exactly = (exact_current_possible(self.grid) - 1) // 10
        elif "attendance_severe" in s:
            plan.current_missed_exactly = int(exact_current_possible(self.grid) * 0.6)
        elif "attendance_fallback_prev_year" in s:
            plan.on_roll_from, plan.current_missed_exactly = days[-5], 0
            plan.previous_year_absence_rate = 0.2
        elif "attendance_twenty_sessions" in s:
            plan.on_roll_from, plan.current_missed_exactly = days[-10], 0
            plan.previous_year_absence_rate = 0.3
        elif "attendance_low_age4" in s:
            plan.absence_rate = 0.25
        if p.age_aug31 == 4:
            plan.previous_year_absence_rate = 0.0
            plan.on_roll_from = plan.on_roll_from or self.grid.current_start
        lines, counts = pupil_sessions(self.grid, p.upn, urn, plan, self.np_rng)
        if p.age_aug31 == 4:  # reception: no sessions last year (they were not at school)
            lines = [line for line in lines if line.split(",")[2] >= self.grid.current_start.isoformat()]
            counts["previous"] = [0, 0, 0]
        self.attendance_lines = lines
        self.facts.attendance = counts

    # -- the person itself ----------------------------------------------------------------------------

    def person_rows(self):
        p, rng, D = self.p, self.rng, self.D
        education = self.records.get("EDUCATION")
        gp = self.records.get("GP")
        upn = p.upn
        if upn and education and education.get("upn") == upn and rng.random() < 0.05:
            upn = None  # not recorded by social care; education's index holds it
        if "invalid_upn_in_ssd" in self.s and p.upn and education and education.get("upn"):
            upn = corrupt_upn(p.upn)
        nhs = p.nhs
        if gp and gp.get("nhs_number") and rng.random() < 0.03:
            nhs = None
        if "invalid_nhs_in_ssd" in self.s and gp and gp.get("nhs_number"):
            nhs = corrupt_nhs_number(p.nhs)
        self.rows["ssd_person"].append(
            {
                "pers_person_id": p.person_id,
                "pers_upn": upn,
                "pers_single_unique_id": nhs,
                "pers_forename": p.forename,
                "pers_surname": p.surname,
                "pers_dob": p.dob,
                "pers_sex": p.sex,
                "pers_send_flag": self.facts.send_flag,
            }
        )
        moved = p.dob + timedelta(days=rng.randint(0, max(0, (D - p.dob).days - 30)))
        if rng.random() < 0.3 and moved > p.dob + 30 * DAY:
            self.rows["ssd_address"].append(
                {
                    "addr_person_id": p.person_id,
                    "addr_address_postcode": random_postcode(rng),
                    "addr_address_start_date": p.dob,
                    "addr_address_end_date": moved,
                }
            )
        else:
            moved = p.dob
        self.rows["ssd_address"].append(
            {
                "addr_person_id": p.person_id,
                "addr_address_postcode": p.postcode,
                "addr_address_start_date": moved,
                "addr_address_end_date": None,
            }
        )
        codes = ["COMM"] if p.non_verbal else []
        if rng.random() < 0.2 or p.has_ehcp:
            codes += rng.sample(["LD", "AUT", "BEH", "MOB", "HEAR", "VIS", "CON", "DDA"], rng.randint(1, 2))
        if not codes and rng.random() < 0.5:
            codes = ["NONE"]
        for code in sorted(set(codes)):
            self.rows["ssd_disability"].append({"disa_person_id": p.person_id, "disa_disability_code": code})
        linked = []
        if rng.random() < 0.2:
            linked.append(("NHS Number", p.nhs))
        if p.upn and rng.random() < 0.2:
            linked.append(("Unique Pupil Number", p.upn))
        if "invalid_linked_identifier" in self.s:
            linked.append(("NHS Number", corrupt_nhs_number(p.nhs)))
        for kind, value in linked:
            self.rows["ssd_linked_identifiers"].append(
                {
                    "link_person_id": p.person_id,
                    "link_identifier_type": kind,
                    "link_identifier_value": value,
                    "link_valid_from_date": self.days_ago(100, 1500),
                    "link_valid_to_date": None,
                }
            )
        valid_keys = {
            value
            for value in (nhs, upn, *(v for _, v in linked))
            if value and (is_valid_nhs_number(value) or is_valid_upn(value))
        }
        self.keep_links_derivable(valid_keys)

    def keep_links_derivable(self, social_care_keys: set[str]):
        """The truth assumes every record of this child links to it, so the link must follow from
        the data. A record sharing no identifier with social care keeps at most one name slip
        (forename, surname or blank sex: the model links those at any authority size); a moved
        postcode or a different DOB without an identifier goes to officer review on `large`, so it
        is restored. The planted DOB record carries only its planted defect and an identifier
        social care holds. Only valid identifiers are keys, as in linkage."""
        p = self.p
        for agency, record in self.records.items():
            nhs = (record["nhs_number"] or "").replace(" ", "")
            shares_key = (
                nhs in social_care_keys
                or record["upn"] in social_care_keys
                or (record["la_person_id"] is not None and record["la_person_id"] == p.person_id)
            )
            if agency == self.planted_identity_record:
                limit_identity_noise(self.rng, record, p, keep="dob")
                if not shares_key:
                    give_shared_identifier(record, p, p.nhs in social_care_keys, p.upn in social_care_keys)
            elif not shares_key:
                limit_identity_noise(self.rng, record, p)
