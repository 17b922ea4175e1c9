"""What every check's truth shares: one child's facts and the derivations several checks use.

Each check's own truth is in `truth/<check_id>.py` (its planted cases beside it). Plain Python
over one child's rows (the rows exactly as written to the delivery, with Python types), never SQL and never the project's check code. Record linkage is the TRUE linkage: the
generator knows which agency records, GP registrations, EHCPs and attendance rows belong to
the child. Interpretations of ambiguous rules are spelled out in docs/GENERATOR.md.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from ._calendar import WorkingDays, age_in_years, last_31_august_before

CIN_MEETING_TYPES = ("CIN_MEETING", "CIN_REVIEW")
MINUTED_MEETING_TYPES = ("CIN_MEETING", "CIN_REVIEW", "ICPC", "CP_REVIEW", "CORE_GROUP")
TIMED_SHARE_TOPICS = ("MEETING_MINUTES", "PLAN", "SOCIAL_WORKER_CHANGE", "OTHER")
FAMILY_INVITEES = ("MOTHER", "FATHER", "MALE_CARER", "CARER", "CHILD", "OTHER")
FATHER_ROLES = ("FATHER", "MALE_CARER")

ATTENDANCE_MIN_POSSIBLE = 20  # possible sessions this year below which the previous year is the window


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
    """Derivations shared by the checks' truth (`truth/<check_id>.py` call them as `ev`)."""

    def __init__(self, as_at: date, working_days: WorkingDays):
        self.as_at = as_at
        self.wd = working_days

    # -- shared derivations -------------------------------------------------------------------

    def is_cin(self, facts: ChildFacts) -> bool:
        return any(
            is_open(p["cinp_cin_plan_start_date"], p["cinp_cin_plan_end_date"], self.as_at)
            for p in facts.rows["ssd_cin_plans"]
        )

    def open_plans(self, facts: ChildFacts) -> list[dict]:
        return [
            p
            for p in facts.rows["ssd_cin_plans"]
            if is_open(p["cinp_cin_plan_start_date"], p["cinp_cin_plan_end_date"], self.as_at)
        ]

    def has_active_ehcp(self, facts: ChildFacts) -> bool:
        return any(is_open(e["named_plan_start_date"], e["ceased_date"], self.as_at) for e in facts.rows["ehcp_plans"])

    def compulsory_school_age(self, facts: ChildFacts) -> bool:
        return 5 <= age_in_years(facts.dob, last_31_august_before(self.as_at)) <= 15

    def open_flags(self, facts: ChildFacts, flag_type: str | None = None) -> list[dict]:
        return [
            f
            for f in facts.rows["agency_flags"]
            if is_open(f["start_date"], f["end_date"], self.as_at)
            and (flag_type is None or f["flag_type"] == flag_type)
        ]

    def linked_agencies(self, facts: ChildFacts) -> set[str]:
        return {r["agency"] for r in facts.rows["agency_records"]}

    def cw_involvements(self, facts: ChildFacts) -> list[dict]:
        return [i for i in facts.rows["ssd_involvements"] if i["invo_professional_role_id"] == "CW"]

    def open_involvement(self, facts: ChildFacts) -> bool:
        return any(
            is_open(i["invo_involvement_start_date"], i["invo_involvement_end_date"], self.as_at)
            for i in facts.rows["ssd_involvements"]
        )

    def invitations_by_meeting(self, facts: ChildFacts) -> dict[str, list[dict]]:
        grouped = defaultdict(list)
        for invitation in facts.rows["meeting_invitations"]:
            grouped[invitation["meeting_id"]].append(invitation)
        return grouped

    def attendance_window(self, facts) -> list[int]:
        current = facts.attendance["current"]
        return current if current[1] >= ATTENDANCE_MIN_POSSIBLE else facts.attendance["previous"]

    def gp_registered_on(self, facts, day: date) -> bool:
        return any(is_open(r["registered_from"], r["registered_to"], day) for r in facts.rows["gp_registrations"])
