"""Planted exceptions and near-misses: which check each one exercises, how often, for whom.

A scenario is a deviation from the compliant default that the child builder applies. Rates are
shares of the CiN children (closed and EHCP-only children for the transition scenarios) with a
floor of one, so every profile, even the smallest, exercises every rule and every edge.
"""

from dataclasses import dataclass, replace
from typing import Callable


@dataclass(frozen=True)
class Scenario:
    name: str
    check_id: str
    near_miss: bool
    rate: float
    group: str  # at most one scenario of a group per child: they shape the same facts
    description: str
    cohort: str = "cin"  # "cin", "ehcp_only"
    eligible: Callable | None = None  # (base child) -> bool


def _compulsory(child) -> bool:
    return 5 <= child.age_aug31 <= 15


SCENARIOS = [
    # CIN_EHCP_FLAG_MISSING
    Scenario("flag_missing_social_care", "CIN_EHCP_FLAG_MISSING", False, 0.015, "ehcp_flags",
             "pers_send_flag N on a CiN child with an active EHCP", eligible=lambda c: c.has_ehcp),
    Scenario("flag_missing_partner", "CIN_EHCP_FLAG_MISSING", False, 0.02, "ehcp_flags",
             "one partner agency holds no open CIN flag for a CiN child with an EHCP", eligible=lambda c: c.has_ehcp),
    Scenario("ehcp_ceased_today", "CIN_EHCP_FLAG_MISSING", True, 0.005, "ehcp_flags",
             "EHCP ceased on the as-at date (not active) and no flags anywhere", eligible=lambda c: c.has_ehcp),
    Scenario("cin_flag_ends_tomorrow", "CIN_EHCP_FLAG_MISSING", True, 0.005, "ehcp_flags",
             "a partner's CIN flag ends the day after the as-at date (still open)", eligible=lambda c: c.has_ehcp),
    # VOICE_OF_CHILD_ABSENT
    Scenario("no_child_voice", "VOICE_OF_CHILD_ABSENT", False, 0.03, "child_voice",
             "only parents' voice in the last 90 days"),
    Scenario("child_voice_day_89", "VOICE_OF_CHILD_ABSENT", True, 0.005, "child_voice",
             "latest child voice exactly 89 days before the as-at date (first day of the window)"),
    Scenario("nonverbal_observation", "VOICE_OF_CHILD_ABSENT", True, 0.01, "child_voice",
             "non-verbal child (COMM) heard by observation only"),
    Scenario("plan_ended_today", "VOICE_OF_CHILD_ABSENT", True, 0.0, "cohort",
             "CiN plan ended on the as-at date: not CiN, so no voice records is not an exception",
             cohort="closed"),
    # CIN_PLAN_NOT_SMART
    Scenario("plan_no_actions", "CIN_PLAN_NOT_SMART", False, 0.01, "actions", "open CIN plan with no actions at all"),
    Scenario("action_missing_owner", "CIN_PLAN_NOT_SMART", False, 0.01, "actions", "an OPEN action with no owner role, professional or agency"),
    Scenario("action_missing_due", "CIN_PLAN_NOT_SMART", False, 0.01, "actions", "an OPEN action with no due date"),
    Scenario("action_missing_outcome", "CIN_PLAN_NOT_SMART", False, 0.01, "actions", "an OPEN action with no outcome measure"),
    Scenario("action_overdue", "CIN_PLAN_NOT_SMART", False, 0.01, "actions", "an OPEN action due 11 working days before the as-at date"),
    Scenario("action_overdue_edge", "CIN_PLAN_NOT_SMART", True, 0.005, "actions", "an OPEN action due exactly 10 working days before the as-at date (inside the grace)"),
    Scenario("dropped_action_incomplete", "CIN_PLAN_NOT_SMART", True, 0.005, "actions", "a DROPPED action without owner, due date or outcome (not OPEN)"),
    # CIN_REVIEW_OVERDUE
    Scenario("review_overdue", "CIN_REVIEW_OVERDUE", False, 0.02, "reviews", "last CiN meeting held 84 or more days before the as-at date"),
    Scenario("review_edge", "CIN_REVIEW_OVERDUE", True, 0.005, "reviews", "last CiN meeting held exactly 83 days before the as-at date (first day of the interval)"),
    Scenario("new_plan_no_review", "CIN_REVIEW_OVERDUE", True, 0.005, "reviews", "plan started 60 days ago, no meeting held yet"),
    # COMMUNICATION_DELAYED
    Scenario("minutes_late", "COMMUNICATION_DELAYED", False, 0.015, "minutes", "minutes shared on the 6th working day after the meeting"),
    Scenario("minutes_not_shared", "COMMUNICATION_DELAYED", False, 0.01, "minutes", "minutes of a meeting 30 days ago never shared"),
    Scenario("share_late", "COMMUNICATION_DELAYED", False, 0.01, "minutes", "a PLAN share sent 7 working days after the plan review"),
    Scenario("minutes_bank_holiday_edge", "COMMUNICATION_DELAYED", True, 0.005, "minutes", "minutes shared exactly on the 5th working day, the span crossing a bank holiday"),
    Scenario("minutes_pending", "COMMUNICATION_DELAYED", True, 0.005, "minutes", "meeting held 2 working days ago, minutes not yet due"),
    # SCHOOL_ATTENDANCE_LOW / ATTENDANCE_DATA_MISSING
    Scenario("attendance_exact_10pct", "SCHOOL_ATTENDANCE_LOW", False, 0.01, "attendance", "exactly 10.0 % of possible sessions missed this academic year", eligible=_compulsory),
    Scenario("attendance_severe", "SCHOOL_ATTENDANCE_LOW", False, 0.01, "attendance", "about 60 % of possible sessions missed (severe)", eligible=_compulsory),
    Scenario("attendance_fallback_prev_year", "SCHOOL_ATTENDANCE_LOW", False, 0.005, "attendance", "joined school 5 days ago (10 sessions): previous academic year (about 20 % missed) is the window", eligible=lambda c: 6 <= c.age_aug31 <= 15),
    Scenario("attendance_just_under", "SCHOOL_ATTENDANCE_LOW", True, 0.01, "attendance", "missed sessions one short of 10 % (about 90.4 % attendance)", eligible=_compulsory),
    Scenario("attendance_twenty_sessions", "SCHOOL_ATTENDANCE_LOW", True, 0.005, "attendance", "exactly 20 possible sessions this year, all attended; the poor previous year is not used", eligible=lambda c: 6 <= c.age_aug31 <= 15),
    Scenario("attendance_low_age4", "SCHOOL_ATTENDANCE_LOW", True, 0.005, "attendance", "reception child (aged 4 on 31 August) missing 25 % of sessions", eligible=lambda c: c.age_aug31 == 4),
    Scenario("no_attendance", "ATTENDANCE_DATA_MISSING", False, 0.01, "attendance", "compulsory-school-age CiN child with no attendance rows", eligible=_compulsory),
    Scenario("attendance_summary_only", "ATTENDANCE_DATA_MISSING", True, 0.005, "attendance", "school sends a termly summary instead of sessions", eligible=_compulsory),
    Scenario("no_attendance_age16", "ATTENDANCE_DATA_MISSING", True, 0.005, "attendance", "aged 16 on 31 August (beyond compulsory school age), no attendance", eligible=lambda c: c.age_aug31 == 16),
    # PERPLEXING_PRESENTATION_UNASSESSED
    Scenario("pp_no_meeting", "PERPLEXING_PRESENTATION_UNASSESSED", False, 0.006, "pp", "open PP flag for months, no PP consensus meeting"),
    Scenario("pp_meeting_late", "PERPLEXING_PRESENTATION_UNASSESSED", False, 0.005, "pp", "PP consensus meeting held on the 21st working day after the flag"),
    Scenario("pp_agency_lacks", "PERPLEXING_PRESENTATION_UNASSESSED", False, 0.006, "pp", "GP or EDUCATION (or social care) neither flagged nor told about the PP concern"),
    Scenario("pp_meeting_edge", "PERPLEXING_PRESENTATION_UNASSESSED", True, 0.005, "pp", "PP consensus meeting held exactly on the 20th working day"),
    Scenario("pp_flag_recent", "PERPLEXING_PRESENTATION_UNASSESSED", True, 0.005, "pp", "PP flag raised 10 working days ago, meeting not yet due"),
    # ESCALATION_NOT_USED
    Scenario("difference_stage0_stale", "ESCALATION_NOT_USED", False, 0.01, "difference", "disagreement recorded, not escalated, for more than 5 working days"),
    Scenario("difference_stage_stale", "ESCALATION_NOT_USED", False, 0.01, "difference", "escalation stuck at stage 2 for more than 10 working days"),
    Scenario("difference_stage0_edge", "ESCALATION_NOT_USED", True, 0.005, "difference", "disagreement raised exactly 5 working days ago"),
    Scenario("difference_stage_edge", "ESCALATION_NOT_USED", True, 0.005, "difference", "stage 3 reached exactly 10 working days ago"),
    # TRANSITION_PLAN_MISSING
    Scenario("transition_none", "TRANSITION_PLAN_MISSING", False, 0.01, "transition", "CiN young person over 15y6m with no transition plan", eligible=lambda c: c.age_aug31 >= 16 and not c.has_ehcp),
    Scenario("transition_exact_age", "TRANSITION_PLAN_MISSING", False, 0.004, "transition", "CiN child exactly 15 years 6 months old on the as-at date, no plan", eligible=lambda c: not c.has_ehcp),
    Scenario("transition_stale_review", "TRANSITION_PLAN_MISSING", False, 0.005, "transition", "transition plan last reviewed about 14 months ago", eligible=lambda c: c.age_aug31 >= 16),
    Scenario("transition_wrong_type", "TRANSITION_PLAN_MISSING", False, 0.004, "transition", "only a HEALTH_TRANSITION plan", eligible=lambda c: c.age_aug31 >= 16),
    Scenario("transition_one_day_young", "TRANSITION_PLAN_MISSING", True, 0.004, "transition", "CiN child 15y6m tomorrow, no plan", eligible=lambda c: not c.has_ehcp),
    Scenario("transition_ehcp_year9", "TRANSITION_PLAN_MISSING", False, 0.05, "transition", "EHCP (no CiN) aged 13-15 on 31 August, no plan: owner EDUCATION", cohort="ehcp_only", eligible=lambda c: 13 <= c.age_aug31 <= 14),
    Scenario("transition_year8_ehcp", "TRANSITION_PLAN_MISSING", True, 0.03, "transition", "EHCP (no CiN) aged 12 on 31 August (13 the next day), no plan", cohort="ehcp_only"),
    # Social workers
    Scenario("sw_three_in_year", "SOCIAL_WORKER_CHANGES_FREQUENT", False, 0.02, "sw", "three social workers in the last 365 days"),
    Scenario("sw_two_in_year", "SOCIAL_WORKER_CHANGES_FREQUENT", True, 0.01, "sw", "exactly two social workers in the last 365 days"),
    Scenario("sw_back_to_first", "SOCIAL_WORKER_CHANGES_FREQUENT", True, 0.005, "sw", "A then B then A again: two distinct workers"),
    Scenario("sw_unallocated", "SOCIAL_WORKER_UNALLOCATED", False, 0.015, "sw", "no allocated worker since the last one left weeks ago"),
    Scenario("sw_unallocated_edge", "SOCIAL_WORKER_UNALLOCATED", True, 0.005, "sw", "worker left exactly 5 working days ago"),
    Scenario("sw_stale_flag", "SOCIAL_WORKER_STALE_IN_PARTNER", False, 0.015, "sw", "a partner still names the previous social worker weeks after the change"),
    Scenario("sw_never_allocated_flag", "SOCIAL_WORKER_STALE_IN_PARTNER", False, 0.005, "sw", "a partner names a social worker never allocated to the child"),
    Scenario("sw_stale_edge", "SOCIAL_WORKER_STALE_IN_PARTNER", True, 0.005, "sw", "a partner names the previous worker, who left exactly 10 working days ago"),
    # FATHER_VOICE_ABSENT
    Scenario("father_not_recorded", "FATHER_VOICE_ABSENT", False, 0.02, "father", "no father or male carer in family_members"),
    Scenario("father_no_voice", "FATHER_VOICE_ABSENT", False, 0.02, "father", "father recorded, no father voice or invitation for over 180 days"),
    Scenario("father_voice_day_179", "FATHER_VOICE_ABSENT", True, 0.005, "father", "father's voice recorded exactly 179 days before the as-at date"),
    Scenario("male_carer_voice", "FATHER_VOICE_ABSENT", True, 0.005, "father", "a male carer (no father) recorded and heard"),
    # ICPC_CANCELLATION_NOT_COMMUNICATED
    Scenario("icpc_cancelled_unshared", "ICPC_CANCELLATION_NOT_COMMUNICATED", False, 0.008, "s47", "ICPC cancelled, one invited partner never told"),
    Scenario("s47_nfa_unshared", "ICPC_CANCELLATION_NOT_COMMUNICATED", False, 0.008, "s47", "S47 ended NFA, one strategy-meeting partner never told"),
    Scenario("icpc_share_late", "ICPC_CANCELLATION_NOT_COMMUNICATED", False, 0.005, "s47", "ICPC cancellation shared with one partner on the 3rd working day"),
    Scenario("icpc_share_edge", "ICPC_CANCELLATION_NOT_COMMUNICATED", True, 0.005, "s47", "ICPC cancellation shared on exactly the 2nd working day, across a bank holiday"),
    Scenario("icpc_pending", "ICPC_CANCELLATION_NOT_COMMUNICATED", True, 0.005, "s47", "ICPC cancelled 1 working day ago, not yet shared (limit not passed)"),
    Scenario("s47_nfa_old", "ICPC_CANCELLATION_NOT_COMMUNICATED", True, 0.005, "s47", "S47 NFA 400 days ago never shared (outside the window)"),
    # SELF_HARM_NOT_SHARED
    Scenario("self_harm_unshared", "SELF_HARM_NOT_SHARED", False, 0.015, "self_harm", "self-harm flagged by one agency, an involved agency never told"),
    Scenario("self_harm_uninvolved_agency", "SELF_HARM_NOT_SHARED", True, 0.005, "self_harm", "agency with a linked record but no flag, involvement or recent invitation is not told", eligible=lambda c: not c.has_ehcp),
    Scenario("self_harm_factor_old", "SELF_HARM_NOT_SHARED", True, 0.005, "self_harm", "15A only on an assessment 14 months ago"),
    # GP_NOT_INVITED / GP_NOT_KNOWN
    Scenario("gp_not_invited", "GP_NOT_INVITED", False, 0.02, "gp", "latest CiN review held without a GP invitation"),
    Scenario("gp_not_registered_then", "GP_NOT_INVITED", True, 0.005, "gp", "meetings before the child's GP registration began, GP not invited"),
    Scenario("gp_meeting_cancelled", "GP_NOT_INVITED", True, 0.005, "gp", "a cancelled CiN review with no invitations"),
    Scenario("gp_none", "GP_NOT_KNOWN", False, 0.01, "gp", "no GP registration and no GP record at all"),
    Scenario("gp_ended", "GP_NOT_KNOWN", False, 0.01, "gp", "GP registration ended weeks ago (moved away)"),
    Scenario("gp_registered_today", "GP_NOT_KNOWN", True, 0.005, "gp", "new GP registration starting on the as-at date"),
    # MULTI_AGENCY_VISIT_LOAD
    Scenario("visit_overload", "MULTI_AGENCY_VISIT_LOAD", False, 0.015, "visits", "three home visits by three agencies in one ISO week, none joint"),
    Scenario("visit_load_joint", "MULTI_AGENCY_VISIT_LOAD", True, 0.005, "visits", "three home visits in one week but one was joint"),
    Scenario("visit_load_one_agency", "MULTI_AGENCY_VISIT_LOAD", True, 0.005, "visits", "three home visits in one week, all by social care"),
    Scenario("visit_load_week_boundary", "MULTI_AGENCY_VISIT_LOAD", True, 0.005, "visits", "three home visits Saturday, Sunday and Monday: two ISO weeks"),
    # INVOLVED_AGENCY_NOT_ON_PLAN
    Scenario("agency_not_on_plan", "INVOLVED_AGENCY_NOT_ON_PLAN", False, 0.02, "plan_agencies", "a partner with an open flag owns no plan action"),
    Scenario("agency_flag_closed", "INVOLVED_AGENCY_NOT_ON_PLAN", True, 0.005, "plan_agencies", "a partner whose only flag has ended, not invited, owns no action", eligible=lambda c: not c.has_ehcp),
    # Identity
    Scenario("no_education_record", "IDENTITY_UNMATCHED", False, 0.01, "identity", "school-age CiN child unknown to education", eligible=_compulsory),
    Scenario("no_education_age4", "IDENTITY_UNMATCHED", True, 0.005, "identity", "aged 4 on 31 August, no education record", eligible=lambda c: c.age_aug31 == 4),
    Scenario("dob_swapped", "IDENTITY_CONFLICT", False, 0.01, "identity", "a partner holds the DOB with day and month swapped"),
    Scenario("dob_blank", "IDENTITY_CONFLICT", True, 0.005, "identity", "a partner record with no DOB (unknown, not a disagreement)"),
    Scenario("twin_in_index", "IDENTITY_CONFLICT", True, 0.005, "identity", "a twin (same DOB, surname, postcode; no NHS number) is in the GP index and belongs to nobody in social care"),
    Scenario("invalid_nhs_in_ssd", "INVALID_IDENTIFIER", False, 0.005, "ssd_identifier", "pers_single_unique_id with a wrong modulus-11 check digit"),
    Scenario("invalid_upn_in_ssd", "INVALID_IDENTIFIER", False, 0.005, "ssd_identifier", "pers_upn with a wrong check letter", eligible=lambda c: c.age_aug31 >= 4),
    Scenario("invalid_linked_identifier", "INVALID_IDENTIFIER", False, 0.005, "ssd_identifier", "ssd_linked_identifiers NHS number with a wrong check digit"),
    Scenario("nhs_with_spaces", "INVALID_IDENTIFIER", True, 0.01, "ssd_identifier", "NHS number delivered as '999 123 4567' by a health partner (valid)"),
]

SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def _has_history(child) -> bool:
    """Old enough for several years of history (worker changes, old reviews, an old S47)."""
    return child.age_aug31 >= 2


NEEDS_HISTORY = {"sw_three_in_year", "sw_two_in_year", "sw_back_to_first", "sw_unallocated", "sw_stale_flag",
                 "sw_stale_edge", "review_overdue", "review_edge", "s47_nfa_old", "father_voice_day_179",
                 "child_voice_day_89", "father_no_voice"}
SCENARIOS = [replace(s, eligible=_has_history) if s.name in NEEDS_HISTORY and s.eligible is None else s for s in SCENARIOS]
SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
