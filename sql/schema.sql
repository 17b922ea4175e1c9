-- Extract contract v1 (../shared/contract/EXTRACTS.md) as typed DuckDB tables.
-- This file is the single source of truth for column types, required columns (NOT NULL)
-- and code lists (ENUM types): ingest reads it back from the catalog to parse and quarantine.
-- Extra columns in a delivery are ignored; names here must not change (agencies export them).

CREATE TYPE agency_code AS ENUM ('SOCIAL_CARE', 'EDUCATION', 'GP', 'COMMUNITY_HEALTH',
    'ACUTE_HEALTH', 'MENTAL_HEALTH', 'POLICE', 'YJS', 'EDT', 'EARLY_HELP');
CREATE TYPE disability_code AS ENUM ('NONE', 'MOB', 'HAND', 'PC', 'INC', 'COMM', 'LD', 'HEAR',
    'VIS', 'BEH', 'CON', 'AUT', 'DDA');
CREATE TYPE primary_need_code AS ENUM ('N0', 'N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7', 'N8', 'N9');
CREATE TYPE family_relationship AS ENUM ('MOTHER', 'FATHER', 'STEP_PARENT', 'MALE_CARER',
    'FEMALE_CARER', 'SIBLING', 'OTHER');
CREATE TYPE meeting_type AS ENUM ('CIN_MEETING', 'CIN_REVIEW', 'STRATEGY', 'ICPC', 'CP_REVIEW',
    'CORE_GROUP', 'EHCP_ANNUAL_REVIEW', 'PP_CONSENSUS', 'TRANSITION_REVIEW');
CREATE TYPE meeting_status AS ENUM ('SCHEDULED', 'HELD', 'CANCELLED');
CREATE TYPE invitee_role AS ENUM ('GP', 'SCHOOL', 'SOCIAL_WORKER', 'HEALTH_VISITOR',
    'SCHOOL_NURSE', 'COMMUNITY_HEALTH', 'PAEDIATRICIAN', 'CAMHS', 'POLICE', 'YJS', 'EARLY_HELP',
    'MOTHER', 'FATHER', 'MALE_CARER', 'CARER', 'CHILD', 'OTHER');
CREATE TYPE action_status AS ENUM ('OPEN', 'DONE', 'DROPPED');
CREATE TYPE voice_source AS ENUM ('CHILD_DIRECT', 'CHILD_OBSERVATION', 'CHILD_ADVOCATE',
    'CHILD_ATTENDED_MEETING', 'MOTHER', 'FATHER', 'MALE_CARER', 'CARER', 'OTHER_ADULT');
CREATE TYPE share_topic AS ENUM ('S47_OUTCOME', 'ICPC_CANCELLED', 'MEETING_MINUTES', 'PLAN',
    'SELF_HARM', 'PERPLEXING_PRESENTATION', 'SOCIAL_WORKER_CHANGE', 'OTHER');
CREATE TYPE transition_plan_type AS ENUM ('PREPARING_FOR_ADULTHOOD', 'POST_16',
    'CARE_ACT_TRANSITION', 'HEALTH_TRANSITION');
CREATE TYPE contact_type AS ENUM ('HOME_VISIT', 'SCHOOL_VISIT', 'CLINIC', 'PHONE', 'VIRTUAL');
CREATE TYPE flag_type AS ENUM ('CIN', 'CP', 'EHCP', 'SELF_HARM', 'PERPLEXING_PRESENTATION',
    'SOCIAL_WORKER');
CREATE TYPE session_half AS ENUM ('AM', 'PM');
-- School Attendance (Pupil Registration) (England) Regulations 2024.
CREATE TYPE attendance_code AS ENUM ('/', '\', 'L', 'K', 'V', 'P', 'W', 'B',
    'C', 'C1', 'C2', 'M', 'J1', 'S', 'T', 'R', 'I', 'E',
    'G', 'N', 'O', 'U',
    'Q', 'Y1', 'Y2', 'Y3', 'Y4', 'Y5', 'Y6', 'Y7', 'X', 'Z', '#');

-- Social care: Standard Safeguarding Dataset (SSD v1.4.x) tables ---------------------------

CREATE TABLE ssd_person (
    pers_person_id VARCHAR NOT NULL,
    pers_upn VARCHAR,
    pers_single_unique_id VARCHAR,
    pers_forename VARCHAR,
    pers_surname VARCHAR,
    pers_dob DATE,                      -- NULL for an unborn child (SSD): pers_expected_dob instead
    pers_sex VARCHAR,
    pers_send_flag BOOLEAN,
    pers_death_date DATE,               -- extension: CIN census PersonDeathDate (RETURNS.md)
    pers_upn_unknown VARCHAR,           -- extension: DfE UPNunknown reason (UN1-UN10), as given
    pers_expected_dob DATE              -- SSD pers_expected_dob / CIN census ExpectedPersonBirthDate (unborn)
);

CREATE TABLE ssd_address (
    addr_person_id VARCHAR NOT NULL,
    addr_address_postcode VARCHAR,
    addr_address_start_date DATE,
    addr_address_end_date DATE
);

CREATE TABLE ssd_disability (
    disa_person_id VARCHAR NOT NULL,
    disa_disability_code disability_code NOT NULL
);

CREATE TABLE ssd_cin_episodes (
    cine_referral_id VARCHAR NOT NULL,
    cine_person_id VARCHAR NOT NULL,
    cine_referral_date DATE NOT NULL,
    cine_cin_primary_need_code primary_need_code,
    cine_close_date DATE,
    cine_close_reason VARCHAR,
    cine_referral_nfa BOOLEAN,          -- extension: CIN census ReferralNFA (no further action)
    cine_referral_worker_id VARCHAR     -- SSD: the referral's worker, an id (a name, as SystemC writes, is reported and loaded as missing)
);

CREATE TABLE ssd_cin_assessments (
    cina_assessment_id VARCHAR NOT NULL,
    cina_person_id VARCHAR NOT NULL,
    cina_referral_id VARCHAR,
    cina_assessment_start_date DATE NOT NULL,
    cina_assessment_auth_date DATE,
    cina_assessment_child_seen BOOLEAN
);

-- Delivered as a JSON array or a comma-separated list; held as a list of factor codes.
CREATE TABLE ssd_assessment_factors (
    cinf_assessment_id VARCHAR NOT NULL,
    cinf_assessment_factors_json VARCHAR[] NOT NULL
);

CREATE TABLE ssd_cin_plans (
    cinp_cin_plan_id VARCHAR NOT NULL,
    cinp_referral_id VARCHAR,
    cinp_person_id VARCHAR NOT NULL,
    cinp_cin_plan_start_date DATE NOT NULL,
    cinp_cin_plan_end_date DATE
);

CREATE TABLE ssd_cin_visits (
    cinv_cin_visit_id VARCHAR NOT NULL,
    cinv_person_id VARCHAR NOT NULL,
    cinv_cin_visit_date DATE NOT NULL,
    cinv_cin_visit_seen BOOLEAN,
    cinv_cin_visit_seen_alone BOOLEAN
);

CREATE TABLE ssd_s47_enquiry (
    s47e_s47_enquiry_id VARCHAR NOT NULL,
    s47e_referral_id VARCHAR,
    s47e_person_id VARCHAR NOT NULL,
    s47e_s47_start_date DATE NOT NULL,
    s47e_s47_end_date DATE,
    s47e_s47_nfa BOOLEAN
);

CREATE TABLE ssd_initial_cp_conference (
    icpc_icpc_id VARCHAR NOT NULL,
    icpc_icpc_meeting_id VARCHAR,
    icpc_s47_enquiry_id VARCHAR,
    icpc_person_id VARCHAR NOT NULL,
    icpc_icpc_target_date DATE,
    icpc_icpc_date DATE
);

CREATE TABLE ssd_involvements (
    invo_involvements_id VARCHAR NOT NULL,
    invo_professional_id VARCHAR NOT NULL,
    invo_person_id VARCHAR NOT NULL,
    invo_professional_role_id VARCHAR NOT NULL,
    invo_involvement_start_date DATE NOT NULL,
    invo_involvement_end_date DATE,
    invo_worker_change_reason VARCHAR
);

CREATE TABLE ssd_professionals (
    prof_professional_id VARCHAR NOT NULL,
    prof_professional_name VARCHAR,
    prof_professional_job_title VARCHAR,
    prof_agency agency_code,
    prof_practice_code VARCHAR
);

CREATE TABLE ssd_linked_identifiers (
    link_person_id VARCHAR NOT NULL,
    link_identifier_type VARCHAR NOT NULL,
    link_identifier_value VARCHAR,      -- NULL / SSD_PH: the SSD scripts' placeholder rows (missing)
    link_valid_from_date DATE,
    link_valid_to_date DATE
);

-- Case-management forms (local extensions) --------------------------------------------------

CREATE TABLE family_members (
    person_id VARCHAR NOT NULL,
    member_id VARCHAR NOT NULL,
    relationship family_relationship NOT NULL,
    parental_responsibility BOOLEAN,
    lives_with_child BOOLEAN
);

CREATE TABLE meetings (
    meeting_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    meeting_type meeting_type NOT NULL,
    scheduled_date DATE NOT NULL,
    status meeting_status NOT NULL,
    held_date DATE,
    cancelled_date DATE,
    minutes_shared_date DATE,
    child_attended BOOLEAN
);

CREATE TABLE meeting_invitations (
    meeting_id VARCHAR NOT NULL,
    invitee_role invitee_role NOT NULL,
    agency agency_code,
    professional_id VARCHAR,
    invited_date DATE,
    attended BOOLEAN
);

CREATE TABLE plan_actions (
    action_id VARCHAR NOT NULL,
    plan_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    action_text VARCHAR NOT NULL,
    owner_role VARCHAR,
    owner_agency agency_code,
    owner_professional_id VARCHAR,
    due_date DATE,
    outcome_measure VARCHAR,
    status action_status,
    completed_date DATE
);

CREATE TABLE voice_records (
    voice_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    recorded_date DATE NOT NULL,
    agency agency_code NOT NULL,
    voice_source voice_source NOT NULL,
    method VARCHAR
);

CREATE TABLE information_sharing (
    share_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    from_agency agency_code NOT NULL,
    to_agency agency_code NOT NULL,
    topic share_topic NOT NULL,
    event_date DATE NOT NULL,
    shared_date DATE NOT NULL,
    related_id VARCHAR
);

CREATE TABLE professional_differences (
    difference_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    raised_by_agency agency_code NOT NULL,
    about_agency agency_code NOT NULL,
    raised_date DATE NOT NULL,
    topic VARCHAR,
    current_stage INTEGER NOT NULL,  -- 0 = recorded, not escalated; 1-4 = escalation stage
    stage_date DATE,
    resolved_date DATE
);

CREATE TABLE transition_plans (
    plan_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    plan_type transition_plan_type NOT NULL,
    start_date DATE NOT NULL,
    last_review_date DATE,
    end_date DATE
);

CREATE TABLE family_contacts (
    contact_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    agency agency_code NOT NULL,
    professional_id VARCHAR,
    contact_date DATE NOT NULL,
    contact_type contact_type NOT NULL,
    joint_with_agency agency_code
);

-- Partner agencies ----------------------------------------------------------------------------

CREATE TABLE agency_records (
    agency agency_code NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    nhs_number VARCHAR,
    upn VARCHAR,
    la_person_id VARCHAR,
    forename VARCHAR,
    surname VARCHAR,
    dob DATE,
    sex VARCHAR,
    postcode VARCHAR
);

CREATE TABLE agency_flags (
    agency agency_code NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    flag_type flag_type NOT NULL,
    flag_value VARCHAR,
    start_date DATE,
    end_date DATE,
    recorded_date DATE
);

CREATE TABLE gp_registrations (
    nhs_number VARCHAR NOT NULL,
    practice_code VARCHAR NOT NULL,
    registered_from DATE NOT NULL,
    registered_to DATE
);

CREATE TABLE ehcp_plans (
    ehcp_id VARCHAR NOT NULL,
    upn VARCHAR NOT NULL,
    named_plan_start_date DATE NOT NULL,
    ceased_date DATE,
    last_review_date DATE,
    school_urn VARCHAR
);

CREATE TABLE attendance_sessions (
    upn VARCHAR NOT NULL,
    school_urn VARCHAR,
    session_date DATE NOT NULL,
    session session_half NOT NULL,
    attendance_code attendance_code NOT NULL
);

CREATE TABLE attendance_summaries (
    upn VARCHAR NOT NULL,
    school_urn VARCHAR,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    possible_sessions INTEGER NOT NULL,
    present_sessions INTEGER NOT NULL,
    authorised_absence_sessions INTEGER,
    unauthorised_absence_sessions INTEGER
);

-- Extension: the CIN census's PreProceedingsandFGDM block (pre-proceedings and family group
-- decision making), new in the 2026-27 census; one row per block of an episode. Column names
-- follow the census elements (docs/RETURNS.md, docs/EXTRACTS.md). Values whose code list the
-- project has not seen in the DfE specification are kept as given (VARCHAR).
CREATE TABLE cin_pre_proceedings (
    cinpp_pre_proceedings_id VARCHAR NOT NULL,  -- <episode id>/PP/<PPStartDate>
    cinpp_referral_id VARCHAR NOT NULL,         -- the episode (cine_referral_id)
    cinpp_person_id VARCHAR NOT NULL,           -- LAchildID
    cinpp_pp_start_date DATE,                   -- PPStartDate
    cinpp_lbp_sent_date DATE,                   -- LBPSentDate (letter before proceedings sent)
    cinpp_fgdm_meeting_offer VARCHAR,           -- FGDMMeetingOffer, as given
    cinpp_fgdm_meeting_fac VARCHAR,             -- FGDMMeetingFac, as given
    cinpp_initial_pp_meeting_date DATE,         -- InitialPPMeetingDate
    cinpp_review_meetings_count INTEGER,        -- ReviewMeetingsCount
    cinpp_step_decision_date DATE,              -- StepDecisionDate
    cinpp_pp_outcome VARCHAR,                   -- PPOutcome, as given
    cinpp_court_app_date DATE,                  -- CourtAppDate
    cinpp_letter_init_cp_date DATE              -- LetterInitCPDate
);
