"""Independent evaluation of the check catalogue over the generator's own facts.

Plain Python over one child's rows (the rows exactly as written to the delivery, with Python
types), never SQL and never the project's check code. Record linkage is the TRUE linkage: the
generator knows which agency records, GP registrations, EHCPs and attendance rows belong to
the child. Interpretations of ambiguous rules are spelled out in docs/GENERATOR.md.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from ._calendar import WorkingDays, academic_year_start, add_months, age_in_years, last_31_august_before

CIN_MEETING_TYPES = ("CIN_MEETING", "CIN_REVIEW")
MINUTED_MEETING_TYPES = ("CIN_MEETING", "CIN_REVIEW", "ICPC", "CP_REVIEW", "CORE_GROUP")
TIMED_SHARE_TOPICS = ("MEETING_MINUTES", "PLAN", "SOCIAL_WORKER_CHANGE", "OTHER")
FAMILY_INVITEES = ("MOTHER", "FATHER", "MALE_CARER", "CARER", "CHILD", "OTHER")
FATHER_ROLES = ("FATHER", "MALE_CARER")

THRESHOLDS = {
    "voice_window_days": 90,
    "smart_grace_working_days": 10,
    "review_interval_days": 84,
    "communication_limit_working_days": 5,
    "communication_window_days": 365,
    "pp_meeting_limit_working_days": 20,
    "escalation_stage0_working_days": 5,
    "escalation_stage_working_days": 10,
    "transition_age_months": 186,
    "transition_year9_age": 13,
    "sw_change_threshold": 3,
    "sw_change_window_days": 365,
    "unallocated_grace_working_days": 5,
    "stale_sw_grace_working_days": 10,
    "father_window_days": 180,
    "icpc_limit_working_days": 2,
    "icpc_window_days": 365,
    "gp_invite_window_days": 365,
    "visit_window_days": 90,
    "visit_min_contacts": 3,
    "visit_min_agencies": 2,
    "self_harm_factor_months": 12,
    "self_harm_invitation_days": 180,
    "attendance_min_possible": 20,
}


@dataclass
class ChildFacts:
    person_id: str
    dob: date
    send_flag: bool | None
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    # academic year ("current"/"previous") -> [rows of any kind, possible sessions, missed sessions]
    attendance: dict[str, list[int]] = field(default_factory=lambda: {"current": [0, 0, 0], "previous": [0, 0, 0]})


def in_window(day: date | None, as_at: date, days: int) -> bool:
    """The N days up to and including the as-at date."""
    return day is not None and as_at - timedelta(days=days - 1) <= day <= as_at


def is_open(start: date | None, end: date | None, on: date) -> bool:
    return (start is None or start <= on) and (end is None or end > on)


def meeting_date(meeting: dict) -> date:
    return meeting["held_date"] if meeting["status"] == "HELD" and meeting["held_date"] else meeting["scheduled_date"]


class CatalogueEvaluator:
    def __init__(self, as_at: date, working_days: WorkingDays):
        self.as_at = as_at
        self.wd = working_days
        self.t = THRESHOLDS

    # -- shared derivations -------------------------------------------------------------------

    def is_cin(self, facts: ChildFacts) -> bool:
        return any(is_open(p["cinp_cin_plan_start_date"], p["cinp_cin_plan_end_date"], self.as_at)
                   for p in facts.rows["ssd_cin_plans"])

    def open_plans(self, facts: ChildFacts) -> list[dict]:
        return [p for p in facts.rows["ssd_cin_plans"]
                if is_open(p["cinp_cin_plan_start_date"], p["cinp_cin_plan_end_date"], self.as_at)]

    def has_active_ehcp(self, facts: ChildFacts) -> bool:
        return any(is_open(e["named_plan_start_date"], e["ceased_date"], self.as_at) for e in facts.rows["ehcp_plans"])

    def compulsory_school_age(self, facts: ChildFacts) -> bool:
        return 5 <= age_in_years(facts.dob, last_31_august_before(self.as_at)) <= 15

    def open_flags(self, facts: ChildFacts, flag_type: str | None = None) -> list[dict]:
        return [f for f in facts.rows["agency_flags"]
                if is_open(f["start_date"], f["end_date"], self.as_at)
                and (flag_type is None or f["flag_type"] == flag_type)]

    def linked_agencies(self, facts: ChildFacts) -> set[str]:
        return {r["agency"] for r in facts.rows["agency_records"]}

    def cw_involvements(self, facts: ChildFacts) -> list[dict]:
        return [i for i in facts.rows["ssd_involvements"] if i["invo_professional_role_id"] == "CW"]

    def open_involvement(self, facts: ChildFacts) -> bool:
        return any(is_open(i["invo_involvement_start_date"], i["invo_involvement_end_date"], self.as_at)
                   for i in facts.rows["ssd_involvements"])

    def invitations_by_meeting(self, facts: ChildFacts) -> dict[str, list[dict]]:
        grouped = defaultdict(list)
        for invitation in facts.rows["meeting_invitations"]:
            grouped[invitation["meeting_id"]].append(invitation)
        return grouped

    # -- the catalogue ------------------------------------------------------------------------

    def evaluate(self, facts: ChildFacts) -> list[tuple[str, str, str, str]]:
        """Truth rows (check_id, person_id, owner agency, entity_id) for one LA child."""
        found: list[tuple[str, str, str, str]] = []
        cin = self.is_cin(facts)
        found += self.transition_plan_missing(facts, cin)
        found += self.identity_conflict(facts, cin)
        if not cin:
            return found
        for check in (self.cin_ehcp_flag_missing, self.voice_of_child_absent, self.cin_plan_not_smart,
                      self.cin_review_overdue, self.communication_delayed, self.school_attendance,
                      self.perplexing_presentation, self.escalation_not_used,
                      self.social_worker_changes_frequent, self.social_worker_unallocated,
                      self.social_worker_stale_in_partner, self.father_voice_absent,
                      self.icpc_cancellation_not_communicated, self.self_harm_not_shared,
                      self.gp_not_invited, self.gp_not_known, self.multi_agency_visit_load,
                      self.involved_agency_not_on_plan, self.identity_unmatched):
            found += check(facts)
        return found

    def cin_ehcp_flag_missing(self, facts):
        if not self.has_active_ehcp(facts):
            return []
        rows = []
        if facts.send_flag is not True:
            rows.append(("CIN_EHCP_FLAG_MISSING", facts.person_id, "SOCIAL_CARE", f"{facts.person_id}:EHCP"))
        open_cin_records = {(f["agency"], f["agency_record_id"]) for f in self.open_flags(facts, "CIN")}
        for record in facts.rows["agency_records"]:
            if (record["agency"], record["agency_record_id"]) not in open_cin_records:
                rows.append(("CIN_EHCP_FLAG_MISSING", facts.person_id, record["agency"],
                             f"{record['agency_record_id']}:CIN"))
        return rows

    def voice_of_child_absent(self, facts):
        heard = any(v["voice_source"].startswith("CHILD_") and in_window(v["recorded_date"], self.as_at, self.t["voice_window_days"])
                    for v in facts.rows["voice_records"])
        return [] if heard else [("VOICE_OF_CHILD_ABSENT", facts.person_id, "SOCIAL_CARE", facts.person_id)]

    def cin_plan_not_smart(self, facts):
        rows = []
        for plan in self.open_plans(facts):
            actions = [a for a in facts.rows["plan_actions"] if a["plan_id"] == plan["cinp_cin_plan_id"]]
            not_smart = not actions
            for action in actions:
                if action["status"] != "OPEN":
                    continue
                no_owner = not action["owner_role"] and not action["owner_professional_id"]
                overdue = action["due_date"] is not None and self.as_at > self.wd.add(action["due_date"], self.t["smart_grace_working_days"])
                if no_owner or action["due_date"] is None or not action["outcome_measure"] or overdue:
                    not_smart = True
            if not_smart:
                rows.append(("CIN_PLAN_NOT_SMART", facts.person_id, "SOCIAL_CARE", plan["cinp_cin_plan_id"]))
        return rows

    def cin_review_overdue(self, facts):
        interval = self.t["review_interval_days"]
        reviewed = any(m["meeting_type"] in CIN_MEETING_TYPES and m["status"] == "HELD"
                       and in_window(m["held_date"], self.as_at, interval) for m in facts.rows["meetings"])
        return [("CIN_REVIEW_OVERDUE", facts.person_id, "SOCIAL_CARE", plan["cinp_cin_plan_id"])
                for plan in self.open_plans(facts)
                if (self.as_at - plan["cinp_cin_plan_start_date"]).days > interval and not reviewed]

    def communication_delayed(self, facts):
        rows = []
        limit, window = self.t["communication_limit_working_days"], self.t["communication_window_days"]
        for meeting in facts.rows["meetings"]:
            if meeting["meeting_type"] not in MINUTED_MEETING_TYPES or meeting["status"] != "HELD":
                continue
            if not in_window(meeting["held_date"], self.as_at, window):
                continue
            deadline = self.wd.add(meeting["held_date"], limit)
            shared = meeting["minutes_shared_date"]
            if (shared is not None and shared > deadline) or (shared is None and self.as_at > deadline):
                rows.append(("COMMUNICATION_DELAYED", facts.person_id, "SOCIAL_CARE", meeting["meeting_id"]))
        for share in facts.rows["information_sharing"]:
            if share["topic"] in TIMED_SHARE_TOPICS and in_window(share["event_date"], self.as_at, window):
                if share["shared_date"] > self.wd.add(share["event_date"], limit):
                    rows.append(("COMMUNICATION_DELAYED", facts.person_id, share["from_agency"], share["share_id"]))
        return rows

    def attendance_window(self, facts) -> list[int]:
        current = facts.attendance["current"]
        return current if current[1] >= self.t["attendance_min_possible"] else facts.attendance["previous"]

    def school_attendance(self, facts):
        if not self.compulsory_school_age(facts):
            return []
        rows_seen, possible, missed = self.attendance_window(facts)
        found = []
        if possible > 0 and missed * 10 >= possible:  # 10 % or more missed: exactly 10 % counts
            found.append(("SCHOOL_ATTENDANCE_LOW", facts.person_id, "EDUCATION", facts.person_id))
        if rows_seen == 0:
            found.append(("ATTENDANCE_DATA_MISSING", facts.person_id, "EDUCATION", facts.person_id))
        return found

    def perplexing_presentation(self, facts):
        flags = self.open_flags(facts, "PERPLEXING_PRESENTATION")
        if not flags:
            return []
        rows = []
        earliest = min(f["start_date"] for f in flags)
        deadline = self.wd.add(earliest, self.t["pp_meeting_limit_working_days"])
        consensus = any(m["meeting_type"] == "PP_CONSENSUS" and m["status"] == "HELD"
                        and earliest <= m["held_date"] <= deadline for m in facts.rows["meetings"])
        if self.as_at > deadline and not consensus:
            rows.append(("PERPLEXING_PRESENTATION_UNASSESSED", facts.person_id, "SOCIAL_CARE", "PP_CONSENSUS_MEETING"))
        flagged = {f["agency"] for f in flags}
        told = {s["to_agency"] for s in facts.rows["information_sharing"] if s["topic"] == "PERPLEXING_PRESENTATION"}
        linked = self.linked_agencies(facts)
        for agency in ("SOCIAL_CARE", "GP", "EDUCATION"):
            if agency != "SOCIAL_CARE" and agency not in linked:
                continue
            if agency not in flagged and agency not in told:
                rows.append(("PERPLEXING_PRESENTATION_UNASSESSED", facts.person_id, agency, agency))
        return rows

    def escalation_not_used(self, facts):
        rows = []
        for difference in facts.rows["professional_differences"]:
            if difference["resolved_date"] is not None and difference["resolved_date"] <= self.as_at:
                continue
            if difference["current_stage"] == 0:
                stale = self.as_at > self.wd.add(difference["raised_date"], self.t["escalation_stage0_working_days"])
            else:
                since = difference["stage_date"] or difference["raised_date"]
                stale = self.as_at > self.wd.add(since, self.t["escalation_stage_working_days"])
            if stale:
                rows.append(("ESCALATION_NOT_USED", facts.person_id, difference["raised_by_agency"], difference["difference_id"]))
        return rows

    def transition_plan_missing(self, facts, cin):
        ehcp = self.has_active_ehcp(facts)
        if not (cin or ehcp):
            return []
        approaching_16 = add_months(facts.dob, self.t["transition_age_months"]) <= self.as_at
        from_year_9 = ehcp and age_in_years(facts.dob, last_31_august_before(self.as_at)) >= self.t["transition_year9_age"]
        if not (approaching_16 or from_year_9):
            return []
        review_cutoff = add_months(self.as_at, -12)
        planned = any(p["plan_type"] in ("PREPARING_FOR_ADULTHOOD", "POST_16")
                      and is_open(p["start_date"], p["end_date"], self.as_at)
                      and (p["last_review_date"] or p["start_date"]) >= review_cutoff
                      for p in facts.rows["transition_plans"])
        if planned:
            return []
        return [("TRANSITION_PLAN_MISSING", facts.person_id, "SOCIAL_CARE" if cin else "EDUCATION", facts.person_id)]

    def social_worker_changes_frequent(self, facts):
        window_start = self.as_at - timedelta(days=self.t["sw_change_window_days"] - 1)
        workers = {i["invo_professional_id"] for i in self.cw_involvements(facts)
                   if i["invo_involvement_start_date"] <= self.as_at
                   and (i["invo_involvement_end_date"] is None or i["invo_involvement_end_date"] > window_start)}
        if len(workers) >= self.t["sw_change_threshold"]:
            return [("SOCIAL_WORKER_CHANGES_FREQUENT", facts.person_id, "SOCIAL_CARE", facts.person_id)]
        return []

    def social_worker_unallocated(self, facts):
        involvements = self.cw_involvements(facts)
        if any(is_open(i["invo_involvement_start_date"], i["invo_involvement_end_date"], self.as_at) for i in involvements):
            return []
        ends = [i["invo_involvement_end_date"] for i in involvements if i["invo_involvement_end_date"] is not None]
        plan_starts = [p["cinp_cin_plan_start_date"] for p in self.open_plans(facts)]
        since = max(ends + plan_starts)
        if self.as_at > self.wd.add(since, self.t["unallocated_grace_working_days"]):
            return [("SOCIAL_WORKER_UNALLOCATED", facts.person_id, "SOCIAL_CARE", facts.person_id)]
        return []

    def social_worker_stale_in_partner(self, facts):
        rows, seen = [], set()
        involvements = self.cw_involvements(facts)
        for flag in self.open_flags(facts, "SOCIAL_WORKER"):
            worker = [i for i in involvements if i["invo_professional_id"] == flag["flag_value"]]
            if any(is_open(i["invo_involvement_start_date"], i["invo_involvement_end_date"], self.as_at) for i in worker):
                continue
            ended = [i["invo_involvement_end_date"] for i in worker if i["invo_involvement_end_date"] is not None]
            stale = not worker or self.as_at > self.wd.add(max(ended), self.t["stale_sw_grace_working_days"])
            key = (flag["agency"], flag["agency_record_id"])
            if stale and key not in seen:
                seen.add(key)
                rows.append(("SOCIAL_WORKER_STALE_IN_PARTNER", facts.person_id, flag["agency"], flag["agency_record_id"]))
        return rows

    def father_voice_absent(self, facts):
        row = [("FATHER_VOICE_ABSENT", facts.person_id, "SOCIAL_CARE", facts.person_id)]
        if not any(m["relationship"] in FATHER_ROLES for m in facts.rows["family_members"]):
            return row
        window = self.t["father_window_days"]
        if any(v["voice_source"] in FATHER_ROLES and in_window(v["recorded_date"], self.as_at, window)
               for v in facts.rows["voice_records"]):
            return []
        meetings = {m["meeting_id"]: m for m in facts.rows["meetings"]}
        for invitation in facts.rows["meeting_invitations"]:
            if invitation["invitee_role"] in FATHER_ROLES and in_window(meeting_date(meetings[invitation["meeting_id"]]), self.as_at, window):
                return []
        return row

    def icpc_cancellation_not_communicated(self, facts):
        window, limit = self.t["icpc_window_days"], self.t["icpc_limit_working_days"]
        invitations = self.invitations_by_meeting(facts)
        events = []  # (entity prefix, event date, invited partner agencies)
        for meeting in facts.rows["meetings"]:
            if meeting["meeting_type"] == "ICPC" and meeting["status"] == "CANCELLED":
                events.append((meeting["meeting_id"], meeting["cancelled_date"] or meeting["scheduled_date"],
                               invitations[meeting["meeting_id"]]))
        for enquiry in facts.rows["ssd_s47_enquiry"]:
            if enquiry["s47e_s47_nfa"] is True and enquiry["s47e_s47_end_date"] is not None:
                start = enquiry["s47e_s47_start_date"]
                invited = [i for m in facts.rows["meetings"]
                           if m["meeting_type"] == "STRATEGY" and start - timedelta(days=30) <= meeting_date(m) <= start
                           for i in invitations[m["meeting_id"]]]
                events.append((enquiry["s47e_s47_enquiry_id"], enquiry["s47e_s47_end_date"], invited))
        rows = []
        for entity, event_date, invited in events:
            if not in_window(event_date, self.as_at, window):
                continue
            deadline = self.wd.add(event_date, limit)
            if self.as_at <= deadline:
                continue
            partners = sorted({i["agency"] for i in invited if i["agency"] and i["agency"] != "SOCIAL_CARE"
                               and i["invitee_role"] not in FAMILY_INVITEES})
            for agency in partners:
                told = any(s["from_agency"] == "SOCIAL_CARE" and s["to_agency"] == agency
                           and s["topic"] in ("ICPC_CANCELLED", "S47_OUTCOME")
                           and event_date <= s["shared_date"] <= deadline for s in facts.rows["information_sharing"])
                if not told:
                    rows.append(("ICPC_CANCELLATION_NOT_COMMUNICATED", facts.person_id, "SOCIAL_CARE", f"{entity}:{agency}"))
        return rows

    def self_harm_sources(self, facts) -> dict[str, date]:
        """Agency -> date of its earliest self-harm record (open flag start, or 15A assessment)."""
        sources: dict[str, date] = {}
        for flag in self.open_flags(facts, "SELF_HARM"):
            day = flag["start_date"] or flag["recorded_date"]
            sources[flag["agency"]] = min(day, sources.get(flag["agency"], day))
        factors = {f["cinf_assessment_id"]: f["cinf_assessment_factors_json"] for f in facts.rows["ssd_assessment_factors"]}
        cutoff = add_months(self.as_at, -self.t["self_harm_factor_months"])
        for assessment in facts.rows["ssd_cin_assessments"]:
            day = assessment["cina_assessment_start_date"]
            if "15A" in factors.get(assessment["cina_assessment_id"], []) and cutoff <= day <= self.as_at:
                sources["SOCIAL_CARE"] = min(day, sources.get("SOCIAL_CARE", day))
        return sources

    def self_harm_not_shared(self, facts):
        sources = self.self_harm_sources(facts)
        if not sources:
            return []
        earliest = min(sources.values())
        owner = "SOCIAL_CARE" if sources.get("SOCIAL_CARE") == earliest else min(a for a, d in sources.items() if d == earliest)
        flagged = {f["agency"] for f in self.open_flags(facts)}
        meetings = {m["meeting_id"]: m for m in facts.rows["meetings"]}
        invited = {i["agency"] for i in facts.rows["meeting_invitations"]
                   if i["agency"] and in_window(meeting_date(meetings[i["meeting_id"]]), self.as_at, self.t["self_harm_invitation_days"])}
        involved = {a for a in self.linked_agencies(facts) if a in flagged or a in invited}
        if self.open_involvement(facts) or "SOCIAL_CARE" in invited:
            involved.add("SOCIAL_CARE")
        self_harm_flagged = {f["agency"] for f in self.open_flags(facts, "SELF_HARM")}
        told = {s["to_agency"] for s in facts.rows["information_sharing"] if s["topic"] == "SELF_HARM"}
        return [("SELF_HARM_NOT_SHARED", facts.person_id, owner, agency)
                for agency in sorted(involved)
                if agency not in sources and agency not in self_harm_flagged and agency not in told]

    def gp_registered_on(self, facts, day: date) -> bool:
        return any(is_open(r["registered_from"], r["registered_to"], day) for r in facts.rows["gp_registrations"])

    def gp_not_invited(self, facts):
        invitations = self.invitations_by_meeting(facts)
        rows = []
        for meeting in facts.rows["meetings"]:
            if meeting["meeting_type"] not in CIN_MEETING_TYPES or meeting["status"] == "CANCELLED":
                continue
            day = meeting_date(meeting)
            if not in_window(day, self.as_at, self.t["gp_invite_window_days"]) or not self.gp_registered_on(facts, day):
                continue
            if not any(i["invitee_role"] == "GP" for i in invitations[meeting["meeting_id"]]):
                rows.append(("GP_NOT_INVITED", facts.person_id, "SOCIAL_CARE", meeting["meeting_id"]))
        return rows

    def gp_not_known(self, facts):
        if self.gp_registered_on(facts, self.as_at):
            return []
        return [("GP_NOT_KNOWN", facts.person_id, "SOCIAL_CARE", facts.person_id)]

    def multi_agency_visit_load(self, facts):
        weeks = defaultdict(list)
        for contact in facts.rows["family_contacts"]:
            if contact["contact_type"] == "HOME_VISIT" and in_window(contact["contact_date"], self.as_at, self.t["visit_window_days"]):
                weeks[contact["contact_date"].strftime("%G-W%V")].append(contact)
        return [("MULTI_AGENCY_VISIT_LOAD", facts.person_id, "SOCIAL_CARE", week)
                for week, visits in sorted(weeks.items())
                if len(visits) >= self.t["visit_min_contacts"]
                and len({v["agency"] for v in visits}) >= self.t["visit_min_agencies"]
                and all(v["joint_with_agency"] is None for v in visits)]

    def involved_agency_not_on_plan(self, facts):
        involved = {f["agency"] for f in self.open_flags(facts)}
        if self.open_involvement(facts):
            involved.add("SOCIAL_CARE")
        held = [m for m in facts.rows["meetings"] if m["meeting_type"] in CIN_MEETING_TYPES
                and m["status"] == "HELD" and m["held_date"] <= self.as_at]
        if held:
            last = max(held, key=lambda m: (m["held_date"], m["meeting_id"]))
            involved |= {i["agency"] for i in facts.rows["meeting_invitations"] if i["meeting_id"] == last["meeting_id"] and i["agency"]}
        rows = []
        for plan in self.open_plans(facts):
            owners = {a["owner_agency"] for a in facts.rows["plan_actions"] if a["plan_id"] == plan["cinp_cin_plan_id"]}
            rows += [("INVOLVED_AGENCY_NOT_ON_PLAN", facts.person_id, "SOCIAL_CARE", f"{plan['cinp_cin_plan_id']}:{agency}")
                     for agency in sorted(involved - owners)]
        return rows

    def identity_unmatched(self, facts):
        linked = self.linked_agencies(facts)
        expected = ["GP"] + (["EDUCATION"] if self.compulsory_school_age(facts) else [])
        return [("IDENTITY_UNMATCHED", facts.person_id, agency, agency) for agency in sorted(expected) if agency not in linked]

    def identity_conflict(self, facts, cin):
        return [("IDENTITY_CONFLICT", facts.person_id, record["agency"], record["agency_record_id"])
                for record in facts.rows["agency_records"]
                if record["dob"] is not None and record["dob"] != facts.dob]
