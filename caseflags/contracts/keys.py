"""Business keys of the contract tables: ingest enforces them row by row.

A duplicated key is a fault in rows, not in the table: ingest (`caseflags/ingest/duplicates.py`)
sends the rows sharing a key to quarantine with their lines and the reason `duplicate key (…)`
and loads the rest. Rows identical in every contract column are one record delivered twice:
the first is kept. Rows that share a key but differ are all kept out (no way to tell which is
right). History tables (addresses, linked identifiers, flags, GP registrations) have no key.
"""

from __future__ import annotations

UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "ssd_person": ("pers_person_id",),
    "ssd_disability": ("disa_person_id", "disa_disability_code"),
    "ssd_cin_episodes": ("cine_referral_id",),
    "ssd_cin_assessments": ("cina_assessment_id",),
    "ssd_assessment_factors": ("cinf_assessment_id",),
    "ssd_cin_plans": ("cinp_cin_plan_id",),
    "ssd_cin_visits": ("cinv_cin_visit_id",),
    "ssd_s47_enquiry": ("s47e_s47_enquiry_id",),
    "ssd_initial_cp_conference": ("icpc_icpc_id",),
    "cin_pre_proceedings": ("cinpp_pre_proceedings_id",),
    "ssd_involvements": ("invo_involvements_id",),
    "ssd_professionals": ("prof_professional_id",),
    "family_members": ("person_id", "member_id"),
    "meetings": ("meeting_id",),
    "meeting_invitations": ("meeting_id", "invitee_role", "professional_id"),
    "plan_actions": ("action_id",),
    "voice_records": ("voice_id",),
    "information_sharing": ("share_id",),
    "professional_differences": ("difference_id",),
    "transition_plans": ("plan_id",),
    "family_contacts": ("contact_id",),
    "agency_records": ("agency", "agency_record_id"),
    "ehcp_plans": ("ehcp_id",),
    "attendance_sessions": ("upn", "session_date", "session"),
    "attendance_summaries": ("upn", "school_urn", "period_start", "period_end"),
}
# Keys with a nullable part where a row missing that part is not keyed: two invitations of
# the same role without a named professional (e.g. two OTHER adults) are not duplicates.
KEYS_IGNORING_ROWS_WITH_MISSING_PART = frozenset({"meeting_invitations"})
