"""Delivery tables in the contract's column order, and the CSV writer that streams them."""

import csv
import json
from datetime import date
from pathlib import Path

# Contract tables that only the DfE returns fill (the CIN census's 2026-27 PreProceedingsandFGDM
# block, docs/RETURNS.md): the generator delivers no CSV for them, as an authority's SSD export has
# no such table.
RETURNS_ONLY_TABLES = ("cin_pre_proceedings",)

TABLE_COLUMNS: dict[str, list[str]] = {
    "ssd_person": ["pers_person_id", "pers_upn", "pers_single_unique_id", "pers_forename",
                   "pers_surname", "pers_dob", "pers_sex", "pers_send_flag",
                   "pers_death_date", "pers_upn_unknown",  # extensions (EXTRACTS.md), blank here
                   "pers_expected_dob"],  # an unborn child's expected date of birth (SSD), blank here
    "ssd_address": ["addr_person_id", "addr_address_postcode", "addr_address_start_date",
                    "addr_address_end_date"],
    "ssd_disability": ["disa_person_id", "disa_disability_code"],
    "ssd_cin_episodes": ["cine_referral_id", "cine_person_id", "cine_referral_date",
                         "cine_cin_primary_need_code", "cine_close_date", "cine_close_reason",
                         "cine_referral_nfa",  # extension (EXTRACTS.md), blank here
                         "cine_referral_worker_id"],  # SSD column, blank here
    "ssd_cin_assessments": ["cina_assessment_id", "cina_person_id", "cina_referral_id",
                            "cina_assessment_start_date", "cina_assessment_auth_date",
                            "cina_assessment_child_seen"],
    "ssd_assessment_factors": ["cinf_assessment_id", "cinf_assessment_factors_json"],
    "ssd_cin_plans": ["cinp_cin_plan_id", "cinp_referral_id", "cinp_person_id",
                      "cinp_cin_plan_start_date", "cinp_cin_plan_end_date"],
    "ssd_cin_visits": ["cinv_cin_visit_id", "cinv_person_id", "cinv_cin_visit_date",
                       "cinv_cin_visit_seen", "cinv_cin_visit_seen_alone"],
    "ssd_s47_enquiry": ["s47e_s47_enquiry_id", "s47e_referral_id", "s47e_person_id",
                        "s47e_s47_start_date", "s47e_s47_end_date", "s47e_s47_nfa"],
    "ssd_initial_cp_conference": ["icpc_icpc_id", "icpc_icpc_meeting_id", "icpc_s47_enquiry_id",
                                  "icpc_person_id", "icpc_icpc_target_date", "icpc_icpc_date"],
    "ssd_involvements": ["invo_involvements_id", "invo_professional_id", "invo_person_id",
                         "invo_professional_role_id", "invo_involvement_start_date",
                         "invo_involvement_end_date", "invo_worker_change_reason"],
    "ssd_professionals": ["prof_professional_id", "prof_professional_name",
                          "prof_professional_job_title", "prof_agency", "prof_practice_code"],
    "ssd_linked_identifiers": ["link_person_id", "link_identifier_type", "link_identifier_value",
                               "link_valid_from_date", "link_valid_to_date"],
    "family_members": ["person_id", "member_id", "relationship", "parental_responsibility",
                       "lives_with_child"],
    "meetings": ["meeting_id", "person_id", "meeting_type", "scheduled_date", "status",
                 "held_date", "cancelled_date", "minutes_shared_date", "child_attended"],
    "meeting_invitations": ["meeting_id", "invitee_role", "agency", "professional_id",
                            "invited_date", "attended"],
    "plan_actions": ["action_id", "plan_id", "person_id", "action_text", "owner_role",
                     "owner_agency", "owner_professional_id", "due_date", "outcome_measure",
                     "status", "completed_date"],
    "voice_records": ["voice_id", "person_id", "recorded_date", "agency", "voice_source", "method"],
    "information_sharing": ["share_id", "person_id", "from_agency", "to_agency", "topic",
                            "event_date", "shared_date", "related_id"],
    "professional_differences": ["difference_id", "person_id", "raised_by_agency", "about_agency",
                                 "raised_date", "topic", "current_stage", "stage_date",
                                 "resolved_date"],
    "transition_plans": ["plan_id", "person_id", "plan_type", "start_date", "last_review_date",
                         "end_date"],
    "family_contacts": ["contact_id", "person_id", "agency", "professional_id", "contact_date",
                        "contact_type", "joint_with_agency"],
    "agency_records": ["agency", "agency_record_id", "nhs_number", "upn", "la_person_id",
                       "forename", "surname", "dob", "sex", "postcode"],
    "agency_flags": ["agency", "agency_record_id", "flag_type", "flag_value", "start_date",
                     "end_date", "recorded_date"],
    "gp_registrations": ["nhs_number", "practice_code", "registered_from", "registered_to"],
    "ehcp_plans": ["ehcp_id", "upn", "named_plan_start_date", "ceased_date", "last_review_date",
                   "school_urn"],
    "attendance_sessions": ["upn", "school_urn", "session_date", "session", "attendance_code"],
    "attendance_summaries": ["upn", "school_urn", "period_start", "period_end",
                             "possible_sessions", "present_sessions",
                             "authorised_absence_sessions", "unauthorised_absence_sessions"],
}

# The side files that hold the generator's ground truth (never part of a delivery's contract).
TRUTH_COLUMNS = {
    "truth": ["check_id", "person_id", "agency", "entity_id"],
    "truth_links": ["agency", "agency_record_id", "person_id"],
    "near_misses": ["check_id", "person_id", "description"],
    "planted": ["check_id", "person_id", "scenario"],  # the planted exceptions, for tests and docs
    # Partner records of another child of an LA child's household (a twin: same DOB too), and
    # whether social care knows that other child: linkage must never link them to the LA child.
    "truth_relatives": ["agency", "agency_record_id", "person_id", "relationship", "known_to_social_care"],
}


def format_value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "Y"
    if value is False:
        return "N"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class TableWriter:
    """One CSV file: header first, rows streamed, the 1-based line of each row known."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(columns)
        self.last_line = 1

    def write(self, row: dict) -> int:
        self._csv.writerow([format_value(row.get(column)) for column in self.columns])
        self.last_line += 1
        return self.last_line

    def write_raw_lines(self, lines: list[str]) -> int:
        """Pre-formatted lines (attendance, for speed); returns the line of the first one."""
        first = self.last_line + 1
        self._file.writelines(lines)
        self.last_line += len(lines)
        return first

    @property
    def row_count(self) -> int:
        return self.last_line - 1

    def close(self):
        self._file.close()


# Ground truth sits beside the extracts, in a subfolder, so a run over the delivery folder never
# mistakes it for an extract (ingest reads only the folder's own files).
GROUND_TRUTH_DIR = "ground_truth"


def ground_truth(out: Path) -> Path:
    """Where `truth.csv`, `truth_links.csv`, `planted.csv`, `near_misses.csv`, `bad_rows.csv` live."""
    return Path(out) / GROUND_TRUTH_DIR
