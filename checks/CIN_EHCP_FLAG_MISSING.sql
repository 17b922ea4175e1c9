-- CIN_EHCP_FLAG_MISSING: a CiN child with an active EHCP whose records do not say so.
-- Social care should carry the EHCP flag (pers_send_flag = Y); every partner agency holding a
-- linked record (education included) should carry an open CIN flag. One row per agency lacking
-- its flag; an agency with several linked records lacks it only when none carries it.
WITH cin_at_as_at AS (
    SELECT person_id, min(plan_start_date) AS cin_since
    FROM open_cin_plans($as_at)
    GROUP BY person_id
),

ehcp_at_as_at AS (
    SELECT person_id, min(named_plan_start_date) AS ehcp_since, string_agg(DISTINCT ehcp_id, ', ') AS ehcp_ids
    FROM active_ehcp_plans($as_at)
    GROUP BY person_id
),

cin_with_ehcp AS (
    SELECT cin.person_id, cin.cin_since, ehcp.ehcp_since, ehcp.ehcp_ids
    FROM cin_at_as_at AS cin
    JOIN ehcp_at_as_at AS ehcp USING (person_id)
),

social_care_missing_flag AS (
    SELECT
        child.person_id,
        'SOCIAL_CARE' AS agency,
        child.person_id || ':EHCP' AS entity_id,
        'Child in Need since ' || strftime(child.cin_since, '%Y-%m-%d') || ' has had an active EHCP since '
            || strftime(child.ehcp_since, '%Y-%m-%d') || ' but the social care record has no EHCP flag'
            || ' (pers_send_flag is ' || coalesce(CASE WHEN person.pers_send_flag THEN 'Y' ELSE 'N' END, 'blank')
            || '): set pers_send_flag to Y.' AS detail,
        'ssd_person.pers_person_id=' || child.person_id || '; ehcp_plans.ehcp_id=' || child.ehcp_ids AS locator
    FROM cin_with_ehcp AS child
    JOIN ssd_person AS person ON person.pers_person_id = child.person_id
    WHERE person.pers_send_flag IS DISTINCT FROM TRUE
),

partner_records AS (
    SELECT child.person_id, child.cin_since, child.ehcp_since, link.agency, link.agency_record_id
    FROM cin_with_ehcp AS child
    JOIN person_links AS link ON link.person_id = child.person_id
    WHERE link.agency <> 'SOCIAL_CARE'
),

open_cin_flags AS (
    SELECT DISTINCT person_id, CAST(agency AS VARCHAR) AS agency
    FROM open_agency_flags($as_at)
    WHERE flag_type = 'CIN'
),

partner_missing_flag AS (
    SELECT
        record.person_id,
        record.agency,
        min(record.agency_record_id) || ':CIN' AS entity_id,
        'Child in Need since ' || strftime(min(record.cin_since), '%Y-%m-%d')
            || ' (with an active EHCP since ' || strftime(min(record.ehcp_since), '%Y-%m-%d') || ') has no open CIN flag on '
            || CASE WHEN count(*) = 1 THEN 'its ' || record.agency || ' record' ELSE 'any of its ' || count(*) || ' ' || record.agency || ' records' END
            || ' as at ' || strftime($as_at, '%Y-%m-%d') || ': add a CIN flag.' AS detail,
        'agency_records.agency=' || record.agency || '; agency_record_id='
            || string_agg(record.agency_record_id, ', ' ORDER BY record.agency_record_id) AS locator
    FROM partner_records AS record
    LEFT JOIN open_cin_flags AS flag ON flag.person_id = record.person_id AND flag.agency = record.agency
    WHERE flag.person_id IS NULL
    GROUP BY record.person_id, record.agency
)

SELECT person_id, agency, 'agency_record' AS entity_type, entity_id, 'MEDIUM' AS severity, detail, locator
FROM social_care_missing_flag
UNION ALL
SELECT person_id, agency, 'agency_record' AS entity_type, entity_id, 'MEDIUM' AS severity, detail, locator
FROM partner_missing_flag
