-- Per listed exception of one run ($run_id, $as_at): the organisation that owns it (a GP
-- practice code for GP rows, a school URN for EDUCATION rows), the owner agency's own
-- identifiers for the child, and detail / locator / entity_id with every record id of ANOTHER
-- agency for the same child (and, outside the LA's own services, the LA child id) masked, as in
-- the agency files of OUTPUTS.md. Read by the organisation folders and the web workspace.
CREATE TABLE IF NOT EXISTS exception_agency_rows (
    run_id VARCHAR NOT NULL,
    exception_id VARCHAR NOT NULL,
    organisation_type VARCHAR,        -- GP_PRACTICE / SCHOOL / NULL
    organisation VARCHAR,             -- practice code / URN
    agency_record_ids VARCHAR,        -- the owner agency's record ids for the child, '; '-joined
    agency_nhs_number VARCHAR,        -- the NHS number on the owner agency's own record(s)
    agency_upn VARCHAR,               -- the UPN on the owner agency's own record(s)
    agency_detail VARCHAR,
    agency_locator VARCHAR,
    agency_entity_id VARCHAR
);
DELETE FROM exception_agency_rows WHERE run_id = $run_id;
INSERT INTO exception_agency_rows
WITH listed AS (
    SELECT exception_id, check_id, person_id, agency, detail, locator, entity_id,
           list_contains($la_child_id_agencies, agency) AS uses_la_child_id
    FROM exception_history
    WHERE run_id = $run_id AND status IN ('NEW', 'OPEN')
),
owner_links AS (
    SELECT listed.exception_id, links.agency_record_id, records.nhs_number, records.upn
    FROM listed
    JOIN person_links AS links ON links.person_id = listed.person_id AND links.agency = listed.agency
    LEFT JOIN agency_records AS records
      ON CAST(records.agency AS VARCHAR) = links.agency AND records.agency_record_id = links.agency_record_id
),
own_ids AS (
    SELECT exception_id,
           string_agg(DISTINCT agency_record_id, '; ' ORDER BY agency_record_id) AS agency_record_ids,
           string_agg(DISTINCT nhs_number, '; ' ORDER BY nhs_number) AS agency_nhs_number,
           string_agg(DISTINCT upn, '; ' ORDER BY upn) AS agency_upn
    FROM owner_links
    GROUP BY exception_id
),
child_nhs AS (
    -- the GP's own NHS number for the child first, else the LA's
    SELECT exception_id, nhs_number FROM owner_links WHERE nhs_number IS NOT NULL
    UNION
    SELECT listed.exception_id, ids.identifier_value
    FROM listed JOIN person_identifiers AS ids ON ids.person_id = listed.person_id AND ids.identifier_type = 'NHS_NUMBER'
    WHERE listed.agency = 'GP' AND listed.exception_id NOT IN (SELECT exception_id FROM owner_links WHERE nhs_number IS NOT NULL)
),
practice AS (
    SELECT child_nhs.exception_id, arg_max(reg.practice_code, reg.registered_from) AS organisation
    FROM child_nhs
    JOIN gp_registrations AS reg ON reg.nhs_number = child_nhs.nhs_number
    WHERE reg.registered_from <= $as_at AND (reg.registered_to IS NULL OR reg.registered_to >= $as_at)
    GROUP BY child_nhs.exception_id
),
child_upn AS (
    SELECT exception_id, upn FROM owner_links WHERE upn IS NOT NULL
    UNION
    SELECT listed.exception_id, ids.identifier_value
    FROM listed JOIN person_identifiers AS ids ON ids.person_id = listed.person_id AND ids.identifier_type = 'UPN'
    WHERE listed.agency = 'EDUCATION'
),
school_seen AS (
    -- where the child is on roll: an EHCP open at the as-at date names the school; otherwise the
    -- latest attendance summary, otherwise the latest attendance session
    SELECT upn, school_urn, 1 AS source_rank, named_plan_start_date AS seen_on
    FROM ehcp_plans
    WHERE school_urn IS NOT NULL AND named_plan_start_date <= $as_at AND (ceased_date IS NULL OR ceased_date > $as_at)
    UNION ALL
    SELECT upn, school_urn, 2, period_end FROM attendance_summaries WHERE school_urn IS NOT NULL AND period_start <= $as_at
    UNION ALL
    SELECT upn, arg_max(school_urn, session_date), 3, max(session_date)
    FROM attendance_sessions WHERE school_urn IS NOT NULL AND session_date <= $as_at
      AND upn IN (SELECT upn FROM child_upn)
    GROUP BY upn
),
school AS (
    SELECT child_upn.exception_id,
           arg_min(school_seen.school_urn, (school_seen.source_rank, -epoch(school_seen.seen_on))) AS organisation
    FROM child_upn JOIN school_seen ON school_seen.upn = child_upn.upn
    GROUP BY child_upn.exception_id
)
SELECT
    $run_id,
    listed.exception_id,
    CASE listed.agency WHEN 'GP' THEN 'GP_PRACTICE' WHEN 'EDUCATION' THEN 'SCHOOL' END,
    CASE listed.agency WHEN 'GP' THEN practice.organisation WHEN 'EDUCATION' THEN school.organisation END,
    own_ids.agency_record_ids,
    own_ids.agency_nhs_number,
    own_ids.agency_upn,
    -- unmasked here: caseflags.outputs.organisations masks them by exact identity right after
    listed.detail,
    listed.locator,
    listed.entity_id
FROM listed
LEFT JOIN own_ids ON own_ids.exception_id = listed.exception_id
LEFT JOIN practice ON practice.exception_id = listed.exception_id
LEFT JOIN school ON school.exception_id = listed.exception_id;
