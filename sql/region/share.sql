-- What one authority shares with the region, read from its own store after its run
-- (docs/SCALE.md, "What is shared"). Parameters: $la_code, $as_at. One SELECT.
WITH bounds AS (
    SELECT make_date(CASE WHEN month(CAST($as_at AS DATE)) >= 9 THEN year(CAST($as_at AS DATE))
                          ELSE year(CAST($as_at AS DATE)) - 1 END, 9, 1) AS year_start,
           CAST($as_at AS DATE) AS as_at
),
open_plans AS (
    SELECT cinp_person_id AS person_id, min(cinp_cin_plan_start_date) AS cin_since
    FROM ssd_cin_plans, bounds
    WHERE cinp_cin_plan_start_date <= bounds.as_at
      AND (cinp_cin_plan_end_date IS NULL OR cinp_cin_plan_end_date > bounds.as_at)
    GROUP BY cinp_person_id
),
open_cin_flags AS (
    SELECT DISTINCT CAST(flag.agency AS VARCHAR) AS agency, flag.agency_record_id
    FROM agency_flags AS flag, bounds
    WHERE flag.flag_type = 'CIN'
      AND (flag.start_date IS NULL OR flag.start_date <= bounds.as_at)
      AND (flag.end_date IS NULL OR flag.end_date > bounds.as_at)
),
flagged_children AS (
    SELECT DISTINCT link.person_id
    FROM open_cin_flags AS flag
    JOIN person_links AS link USING (agency, agency_record_id)
),
session_counts AS (
    SELECT
        attendance.upn,
        count(*) FILTER (WHERE attendance_class(attendance.attendance_code) <> 'not_possible') AS possible,
        count(*) FILTER (WHERE attendance_class(attendance.attendance_code) IN ('authorised', 'unauthorised')) AS missed,
        string_agg(DISTINCT attendance.school_urn, ', ') AS school_urns
    FROM attendance_sessions AS attendance, bounds
    WHERE attendance.session_date BETWEEN bounds.year_start AND bounds.as_at
    GROUP BY attendance.upn
),
summary_counts AS (
    SELECT summary.upn, sum(summary.possible_sessions) AS possible,
           sum(summary.possible_sessions - summary.present_sessions) AS missed,
           string_agg(DISTINCT summary.school_urn, ', ') AS school_urns
    FROM attendance_summaries AS summary, bounds
    WHERE summary.period_start <= bounds.as_at AND summary.period_end >= bounds.year_start
    GROUP BY summary.upn
),
upn_attendance AS (
    -- Sessions when the pupil has any this year, else the overlapping summaries.
    SELECT upn, possible, missed, school_urns FROM session_counts
    UNION ALL
    SELECT upn, possible, missed, school_urns FROM summary_counts ANTI JOIN session_counts USING (upn)
),
person AS (
    SELECT * FROM ssd_person
    QUALIFY row_number() OVER (PARTITION BY pers_person_id ORDER BY pers_dob, pers_surname, pers_forename) = 1
),
current_postcode AS (
    SELECT addr_person_id AS person_id, addr_address_postcode AS postcode
    FROM ssd_address
    WHERE addr_address_postcode IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY addr_person_id
        ORDER BY addr_address_end_date IS NULL DESC, addr_address_start_date DESC NULLS LAST, addr_address_postcode
    ) = 1
),
child_attendance AS (
    SELECT identifier.person_id, sum(attendance.possible) AS possible, sum(attendance.missed) AS missed,
           string_agg(DISTINCT attendance.school_urns, ', ') AS school_urns
    FROM person_identifiers AS identifier
    JOIN upn_attendance AS attendance ON attendance.upn = identifier.identifier_value
    WHERE identifier.identifier_type = 'UPN'
    GROUP BY identifier.person_id
),
children AS (
    SELECT
        $la_code AS la_code,
        person.pers_person_id AS local_id,
        'SOCIAL_CARE' AS source,
        person.pers_person_id AS person_id,
        person.pers_single_unique_id AS nhs_number,
        person.pers_upn AS upn,
        person.pers_forename AS forename,
        person.pers_surname AS surname,
        person.pers_dob AS dob,
        person.pers_sex AS sex,
        current_postcode.postcode,
        open_plans.person_id IS NOT NULL AS cin_open,
        open_plans.cin_since,
        (open_plans.person_id IS NOT NULL OR flagged_children.person_id IS NOT NULL) AS cin_known,
        child_attendance.possible AS possible_sessions,
        child_attendance.missed AS missed_sessions,
        child_attendance.school_urns
    FROM person
    LEFT JOIN current_postcode ON current_postcode.person_id = person.pers_person_id
    LEFT JOIN open_plans ON open_plans.person_id = person.pers_person_id
    LEFT JOIN flagged_children ON flagged_children.person_id = person.pers_person_id
    LEFT JOIN child_attendance ON child_attendance.person_id = person.pers_person_id
),
education AS (
    SELECT * FROM agency_records
    WHERE agency = 'EDUCATION'
    QUALIFY row_number() OVER (PARTITION BY agency_record_id ORDER BY dob, surname, forename, upn) = 1
),
education_people AS (
    SELECT
        $la_code AS la_code,
        'EDUCATION:' || record.agency_record_id AS local_id,
        'EDUCATION' AS source,
        link.person_id,
        record.nhs_number,
        record.upn,
        record.forename,
        record.surname,
        record.dob,
        record.sex,
        record.postcode,
        false AS cin_open,
        CAST(NULL AS DATE) AS cin_since,
        (flag.agency_record_id IS NOT NULL OR coalesce(child.cin_known, false)) AS cin_known,
        attendance.possible AS possible_sessions,
        attendance.missed AS missed_sessions,
        attendance.school_urns
    FROM education AS record
    LEFT JOIN person_links AS link
      ON link.agency = 'EDUCATION' AND link.agency_record_id = record.agency_record_id
    LEFT JOIN open_cin_flags AS flag
      ON flag.agency = 'EDUCATION' AND flag.agency_record_id = record.agency_record_id
    LEFT JOIN children AS child ON child.local_id = link.person_id
    LEFT JOIN upn_attendance AS attendance ON attendance.upn = record.upn
)
SELECT * FROM children
UNION ALL
SELECT * FROM education_people
ORDER BY source, local_id
