-- Shared DuckDB macros for every query of the store: checks, outputs, audit, the web's snapshot
-- (docs/ARCHITECTURE.md, "Cohort and dates"). Installed in the store by
-- caseflags.store.database.ensure_store after every table they read exists (the `working_days`
-- calendar is filled for a run by caseflags/checking/calendar.py); the web snapshot copies them.
-- Every macro takes its dates as arguments: nothing here reads the clock.

-- Working days -----------------------------------------------------------------------------------
-- A working day is Monday to Friday and not an England and Wales bank holiday. Dates outside
-- the calendar's range (as-at minus 20 years to as-at plus 2 years) give NULL.

-- Count of working days up to and including d.
CREATE OR REPLACE MACRO working_day_number(d) AS (
    SELECT wd.working_day_number FROM working_days AS wd WHERE wd.day = CAST(d AS DATE)
);

-- The n-th working day after d (d itself not counted, whether or not it is a working day).
-- "Within n working days after X" means on or before add_working_days(X, n).
CREATE OR REPLACE MACRO add_working_days(d, n) AS (
    SELECT min(wd.day)
    FROM working_days AS wd
    WHERE wd.is_working_day
      AND wd.working_day_number = (
          SELECT start_day.working_day_number FROM working_days AS start_day WHERE start_day.day = CAST(d AS DATE)
      ) + n
);

-- Working days after a, up to and including b (0 when b <= a on the same working day).
CREATE OR REPLACE MACRO working_days_between(a, b) AS (
    (SELECT later.working_day_number FROM working_days AS later WHERE later.day = CAST(b AS DATE))
    - (SELECT earlier.working_day_number FROM working_days AS earlier WHERE earlier.day = CAST(a AS DATE))
);

-- Ages -------------------------------------------------------------------------------------------
-- Whole years from dob to d. A 29 February birthday falls on 1 March in other years.
CREATE OR REPLACE MACRO age_years(dob, d) AS (
    year(d) - year(dob) - CASE WHEN strftime(d, '%m%d') < strftime(dob, '%m%d') THEN 1 ELSE 0 END
);

-- Whole months from dob to d (for thresholds such as 15 years 6 months = 186 months).
CREATE OR REPLACE MACRO age_months(dob, d) AS (
    (year(d) - year(dob)) * 12 + month(d) - month(dob)
    - CASE WHEN day(d) < day(dob) AND NOT (last_day(d) = CAST(d AS DATE) AND day(dob) > day(d)) THEN 1 ELSE 0 END
);

-- 1 September on or before d: the start of d's academic year.
CREATE OR REPLACE MACRO academic_year_start(d) AS (
    make_date(CAST(year(d) AS BIGINT) - CASE WHEN month(d) < 9 THEN 1 ELSE 0 END, 9, 1)
);

-- Age on the 31 August before d (the last day of the previous academic year), which sets the
-- school year: 5 = Year 1, 13 = Year 9, 15 = Year 11.
CREATE OR REPLACE MACRO age_on_31_august_before(dob, d) AS (
    age_years(dob, academic_year_start(d) - INTERVAL 1 DAY)
);

-- Compulsory school age: aged 5 to 15 on the 31 August before d (Year 1 to Year 11).
CREATE OR REPLACE MACRO is_compulsory_school_age(dob, d) AS (
    age_on_31_august_before(dob, d) BETWEEN 5 AND 15
);

-- Meetings ---------------------------------------------------------------------------------------
-- The date a meeting was held: its held_date, or its scheduled date when held without one.
CREATE OR REPLACE MACRO meeting_held_on(status, held_date, scheduled_date) AS (
    CASE WHEN status = 'HELD' THEN coalesce(held_date, scheduled_date) END
);

-- Cohorts as at d (EXTRACTS.md, "Derived status") ---------------------------------------------
-- CIN plans open at d: start <= d and (no end or end > d).
CREATE OR REPLACE MACRO open_cin_plans(d) AS TABLE
    SELECT
        cinp_cin_plan_id AS plan_id,
        cinp_person_id AS person_id,
        cinp_referral_id AS referral_id,
        cinp_cin_plan_start_date AS plan_start_date,
        cinp_cin_plan_end_date AS plan_end_date
    FROM ssd_cin_plans
    WHERE cinp_cin_plan_start_date <= CAST(d AS DATE)
      AND (cinp_cin_plan_end_date IS NULL OR cinp_cin_plan_end_date > CAST(d AS DATE));

-- Children who are Child in Need at d.
CREATE OR REPLACE MACRO cin_children(d) AS TABLE
    SELECT DISTINCT person_id FROM open_cin_plans(d);

-- EHCPs active at d, reached through the child's UPN in person_identifiers.
CREATE OR REPLACE MACRO active_ehcp_plans(d) AS TABLE
    SELECT
        pupil.person_id,
        plan.ehcp_id,
        plan.named_plan_start_date,
        plan.last_review_date,
        plan.school_urn
    FROM ehcp_plans AS plan
    JOIN person_identifiers AS pupil
      ON pupil.identifier_type = 'UPN' AND pupil.identifier_value = plan.upn
    WHERE plan.named_plan_start_date <= CAST(d AS DATE)
      AND (plan.ceased_date IS NULL OR plan.ceased_date > CAST(d AS DATE));

-- Children with an active EHCP at d.
CREATE OR REPLACE MACRO active_ehcp_children(d) AS TABLE
    SELECT DISTINCT person_id FROM active_ehcp_plans(d);

-- Allocated social workers at d: involvement role CW, start <= d, no end or end > d.
CREATE OR REPLACE MACRO allocated_social_worker(d) AS TABLE
    SELECT
        invo_person_id AS person_id,
        invo_professional_id AS professional_id,
        invo_involvements_id AS involvement_id,
        invo_involvement_start_date AS allocated_from
    FROM ssd_involvements
    WHERE invo_professional_role_id = 'CW'
      AND invo_involvement_start_date <= CAST(d AS DATE)
      AND (invo_involvement_end_date IS NULL OR invo_involvement_end_date > CAST(d AS DATE));

-- GP registrations current at d (registered_from <= d, no end or registered_to > d), reached
-- through the child's NHS number in person_identifiers.
CREATE OR REPLACE MACRO gp_registrations_at(d) AS TABLE
    SELECT
        patient.person_id,
        registration.practice_code,
        registration.registered_from,
        registration.registered_to
    FROM gp_registrations AS registration
    JOIN person_identifiers AS patient
      ON patient.identifier_type = 'NHS_NUMBER' AND patient.identifier_value = registration.nhs_number
    WHERE registration.registered_from <= CAST(d AS DATE)
      AND (registration.registered_to IS NULL OR registration.registered_to > CAST(d AS DATE));

-- Partner flags open at d (no start or start <= d; no end or end > d), with the LA child each
-- flagged record is linked to.
CREATE OR REPLACE MACRO open_agency_flags(d) AS TABLE
    SELECT
        link.person_id,
        flag.agency,
        flag.agency_record_id,
        flag.flag_type,
        flag.flag_value,
        flag.start_date,
        flag.end_date,
        flag.recorded_date
    FROM agency_flags AS flag
    JOIN person_links AS link
      ON link.agency = CAST(flag.agency AS VARCHAR) AND link.agency_record_id = flag.agency_record_id
    WHERE (flag.start_date IS NULL OR flag.start_date <= CAST(d AS DATE))
      AND (flag.end_date IS NULL OR flag.end_date > CAST(d AS DATE));

-- Windows ----------------------------------------------------------------------------------------
-- "A window of N days up to and including D" is [D - (N-1) days, D] (the catalogue's convention).
CREATE OR REPLACE MACRO window_start(d, n_days) AS (
    CAST(d AS DATE) - CAST(n_days - 1 AS INTEGER)
);

-- Severity ---------------------------------------------------------------------------------------
-- The one home of the severities' order, most severe first (1 = HIGH; an unknown severity last).
-- caseflags.checking.registry.SEVERITIES lists them in this order (tests/test_registry.py).
CREATE OR REPLACE MACRO severity_rank(severity) AS (
    CASE CAST(severity AS VARCHAR) WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 3 ELSE 4 END
);

-- Attendance -------------------------------------------------------------------------------------
-- The class of a session's attendance code (School Attendance (Pupil Registration) (England)
-- Regulations 2024; the codes themselves are the contract's ENUM attendance_code): the one home of
-- which codes count as attending, authorised or unauthorised absence, or not a possible session.
CREATE OR REPLACE MACRO attendance_class(code) AS (
    CASE
        WHEN CAST(code AS VARCHAR) IN ('/', '\', 'L', 'K', 'V', 'P', 'W', 'B') THEN 'attending'
        WHEN CAST(code AS VARCHAR) IN ('C', 'C1', 'C2', 'M', 'J1', 'S', 'T', 'R', 'I', 'E') THEN 'authorised'
        WHEN CAST(code AS VARCHAR) IN ('G', 'N', 'O', 'U') THEN 'unauthorised'
        ELSE 'not_possible'
    END
);

-- A child whose recorded death date (ssd_person.pers_death_date, from the CIN census
-- PersonDeathDate or a local extract) is on or before `d`: attendance, transition and GP checks
-- raise nothing for a deceased child after the death.
CREATE OR REPLACE MACRO died_by(death_date, d) AS coalesce(death_date <= d, false);

-- An unborn child (a pre-birth case): social care holds an expected date of birth
-- (ssd_person.pers_expected_dob, CIN census ExpectedPersonBirthDate) and no date of birth yet.
-- Checks that need a born child (its own voice, a GP registration, a partner's record) raise
-- nothing for it; age-based rules see a NULL date of birth and raise nothing either.
CREATE OR REPLACE MACRO person_unborn(person) AS (
    EXISTS (SELECT 1 FROM ssd_person AS unborn
            WHERE unborn.pers_person_id = person AND unborn.pers_expected_dob IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM ssd_person AS born
                    WHERE born.pers_person_id = person AND born.pers_dob IS NOT NULL)
);
CREATE OR REPLACE MACRO person_died_by(person, d) AS EXISTS (
    SELECT 1 FROM ssd_person AS deceased
    WHERE deceased.pers_person_id = person AND deceased.pers_death_date <= d
);

-- Workers and teams ------------------------------------------------------------------------------
-- The SSD's team columns (ssd_involvements.invo_professional_team,
-- ssd_professionals.prof_professional_department) are read when the delivery has them: the
-- empty UNION BY NAME adds each as NULL when it is absent, so the macros bind either way.
CREATE OR REPLACE MACRO involvements_with_team() AS TABLE
    SELECT * FROM ssd_involvements
    UNION ALL BY NAME
    SELECT CAST(NULL AS VARCHAR) AS invo_professional_team WHERE false;

CREATE OR REPLACE MACRO professionals_with_team() AS TABLE
    SELECT * FROM ssd_professionals
    UNION ALL BY NAME
    SELECT CAST(NULL AS VARCHAR) AS prof_professional_department WHERE false;

-- The child's allocated social worker at d (the latest allocation; ties by professional id), by
-- name and team, for owners and for partner-facing text (which never shows a worker's id).
CREATE OR REPLACE MACRO allocated_worker_named(d) AS TABLE
    SELECT
        involvement.invo_person_id AS person_id,
        involvement.invo_professional_id AS professional_id,
        coalesce(nullif(trim(professional.prof_professional_name), ''), 'an unnamed social worker') AS worker_name,
        coalesce(nullif(trim(involvement.invo_professional_team), ''),
                 nullif(trim(professional.prof_professional_department), '')) AS worker_team
    FROM involvements_with_team() AS involvement
    LEFT JOIN professionals_with_team() AS professional
      ON professional.prof_professional_id = involvement.invo_professional_id
    WHERE involvement.invo_professional_role_id = 'CW'
      AND involvement.invo_involvement_start_date <= CAST(d AS DATE)
      AND (involvement.invo_involvement_end_date IS NULL OR involvement.invo_involvement_end_date > CAST(d AS DATE))
    QUALIFY row_number() OVER (
        PARTITION BY involvement.invo_person_id
        ORDER BY involvement.invo_involvement_start_date DESC, involvement.invo_professional_id
    ) = 1;

-- A professional as people know them: their name (never their id), or a plain phrase when the
-- id is not in ssd_professionals.
CREATE OR REPLACE MACRO professional_label(professional) AS (
    coalesce(
        (SELECT max(nullif(trim(named.prof_professional_name), '')) FROM ssd_professionals AS named
         WHERE named.prof_professional_id = professional),
        'a professional not in the social care list'
    )
);

-- Plain words -------------------------------------------------------------------------------------
-- A locator or detail as people read it: the store's table and column names (ssd_person.pers_…,
-- agency_records.…) replaced by what they name, ids and dates kept. Anything of the SSD's
-- prefixes left over is replaced last, so no `ssd_` or `pers_` reaches a reader.
CREATE OR REPLACE MACRO plain_words(text) AS (
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(text,
        'agency_flags\.agency=(\w+); agency_record_id=([^;]+); flag_type=(\w+)', '\1 record \2, \3 flag', 'g'),
        'agency_records\.agency=(\w+)[;,] agency_record_id=', '\1 record ', 'g'),
        'agency_records\.nhs_number', 'the NHS number of the record', 'g'),
        'agency_records\.upn', 'the UPN of the record', 'g'),
        'ssd_person\.pers_person_id=', 'child ', 'g'),
        'ssd_person\.pers_upn', 'the child''s UPN in social care', 'g'),
        'ssd_person\.pers_single_unique_id', 'the child''s NHS number in social care', 'g'),
        '(ssd_person\.)?pers_send_flag', 'the SEND flag in social care', 'g'),
        'ssd_linked_identifiers\.link_identifier_value', 'a linked identifier in social care', 'g'),
        'ssd_cin_plans\.cinp_cin_plan_id=', 'CIN plan ', 'g'),
        'cinp_cin_plan_start_date=', 'plan start ', 'g'),
        'ssd_involvements\.invo_involvements_id=', 'allocation ', 'g'),
        'ssd_s47_enquiry\.s47e_s47_enquiry_id=', 'S47 enquiry ', 'g'),
        's47e_s47_end_date=', 'S47 ended ', 'g'),
        'meetings\.meeting_id=', 'meeting ', 'g'),
        'plan_actions\.action_id=', 'plan actions ', 'g'),
        'information_sharing\.share_id=', 'information share ', 'g'),
        'professional_differences\.difference_id=', 'professional difference ', 'g'),
        'transition_plans\.plan_id=', 'transition plan ', 'g'),
        'family_contacts\.contact_id=', 'family contacts ', 'g'),
        'ehcp_plans\.ehcp_id=', 'EHCP ', 'g'),
        'ehcp_plans\.upn', 'the UPN of an EHCP', 'g'),
        'gp_registrations\.nhs_number', 'the NHS number of a GP registration', 'g'),
        'attendance_(sessions|summaries)\.upn', 'the UPN in attendance \1', 'g'),
        'person_links\.agency=(\w+)', 'no linked \1 record', 'g'),
        'attendance_(sessions|summaries) upn=', 'attendance \1, UPN ', 'g'),
        '\bschool_urn=', 'school URN ', 'g'),
        '\behcp_id=', 'EHCP ', 'g'),
        '\bperson_id=', 'child ', 'g'),
        '\bagency_record_id=', 'record ', 'g'),
        '\bcurrent_stage=', 'stage ', 'g'),
        '\bflag_type=', 'flag ', 'g'),
        '\b(raised|scheduled|cancelled|stage)_date=', '\1 ', 'g'),
        '\bfamily_members\b', 'family members', 'g'),
        '\bvoice_records\b', 'voice records', 'g'),
        '\bmeeting_invitations\b', 'meeting invitations', 'g'),
        '\bssd_([a-z0-9_]+)\.csv\b', 'social care \1 file', 'g'),
        '\b(ssd|pers|cinp|invo|s47e|icpc|cine|cina|cinv|prof)_', '', 'g')
);
