-- The Child page's facts header for $person_id at $as_at: one row. The allocated worker comes from
-- the audit pack's own query (sql/audit/context/allocated_social_worker.sql); the school is found as
-- the organisation of a school row is (exception_agency_rows.sql: open EHCP, else the latest
-- attendance summary, else the latest register session); the GP practice from the registration
-- open at $as_at of the child's NHS number.
WITH person AS (
    SELECT min(pers_dob) AS dob FROM ssd_person WHERE pers_person_id = $person_id
),
open_cin_episodes AS (
    SELECT min(cine_referral_date) AS cin_since, count(*) AS open_episodes
    FROM ssd_cin_episodes
    WHERE cine_person_id = $person_id AND cine_referral_date <= $as_at
      AND (cine_close_date IS NULL OR cine_close_date > $as_at)
),
open_cin_plans AS (
    SELECT min(cinp_cin_plan_start_date) AS plan_since
    FROM ssd_cin_plans
    WHERE cinp_person_id = $person_id AND cinp_cin_plan_start_date <= $as_at
      AND (cinp_cin_plan_end_date IS NULL OR cinp_cin_plan_end_date > $as_at)
),
latest_icpc AS (
    SELECT max(icpc_icpc_date) AS icpc_date
    FROM ssd_initial_cp_conference
    WHERE icpc_person_id = $person_id AND icpc_icpc_date <= $as_at
),
open_cp_flags AS (
    SELECT min(flags.start_date) AS cp_flag_since,
           string_agg(DISTINCT CAST(flags.agency AS VARCHAR), ', ' ORDER BY CAST(flags.agency AS VARCHAR)) AS cp_flag_agencies
    FROM agency_flags AS flags
    JOIN person_links AS links
      ON links.agency = CAST(flags.agency AS VARCHAR) AND links.agency_record_id = flags.agency_record_id
    WHERE links.person_id = $person_id AND flags.flag_type = 'CP'
      AND (flags.start_date IS NULL OR flags.start_date <= $as_at)
      AND (flags.end_date IS NULL OR flags.end_date > $as_at)
),
child_upns AS (
    SELECT identifier_value AS upn FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN'
),
open_ehcp AS (
    SELECT min(named_plan_start_date) AS ehcp_since, arg_max(school_urn, named_plan_start_date) AS ehcp_school
    FROM ehcp_plans
    WHERE upn IN (SELECT upn FROM child_upns) AND named_plan_start_date <= $as_at
      AND (ceased_date IS NULL OR ceased_date > $as_at)
),
school_seen AS (
    SELECT school_urn, 1 AS source_rank, named_plan_start_date AS seen_on
    FROM ehcp_plans
    WHERE upn IN (SELECT upn FROM child_upns) AND school_urn IS NOT NULL
      AND named_plan_start_date <= $as_at AND (ceased_date IS NULL OR ceased_date > $as_at)
    UNION ALL
    SELECT school_urn, 2, period_end FROM attendance_summaries
    WHERE upn IN (SELECT upn FROM child_upns) AND school_urn IS NOT NULL AND period_start <= $as_at
    UNION ALL
    SELECT school_urn, 3, session_date FROM attendance_sessions
    WHERE upn IN (SELECT upn FROM child_upns) AND school_urn IS NOT NULL AND session_date <= $as_at
),
school AS (
    SELECT arg_min(school_urn, (source_rank, -epoch(seen_on))) AS school_urn FROM school_seen
),
child_nhs_numbers AS (
    SELECT identifier_value AS nhs_number FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'NHS_NUMBER'
),
gp_practice AS (
    SELECT arg_max(practice_code, registered_from) AS practice_code, max(registered_from) AS registered_from
    FROM gp_registrations
    WHERE nhs_number IN (SELECT nhs_number FROM child_nhs_numbers) AND registered_from <= $as_at
      AND (registered_to IS NULL OR registered_to >= $as_at)
)
SELECT
    person.dob,
    CASE WHEN person.dob IS NOT NULL THEN
        year($as_at) - year(person.dob)
        - CASE WHEN strftime($as_at, '%m%d') < strftime(person.dob, '%m%d') THEN 1 ELSE 0 END
    END AS age_years,
    open_cin_episodes.cin_since,
    open_cin_plans.plan_since AS cin_plan_since,
    latest_icpc.icpc_date,
    open_cp_flags.cp_flag_since,
    open_cp_flags.cp_flag_agencies,
    open_ehcp.ehcp_since,
    open_ehcp.ehcp_school,
    school.school_urn,
    gp_practice.practice_code AS gp_practice,
    gp_practice.registered_from AS gp_registered_from
FROM person, open_cin_episodes, open_cin_plans, latest_icpc, open_cp_flags, open_ehcp, school, gp_practice
