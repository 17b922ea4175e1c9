-- Each agency's listed rows of run $run_id, with the agency's own record ids for the child and
-- hidden_ids: the ids this agency may not see (other agencies' record ids for the same child, and
-- the LA child id for agencies outside $la_child_id_agencies), masked by exact identity in Python.
WITH listed AS (
    SELECT * REPLACE (plain_detail AS detail, plain_locator AS locator),
           list_contains($la_child_id_agencies, agency) AS uses_la_child_id
    FROM exceptions_listed WHERE run_id = $run_id
),
owner_links AS (
    SELECT listed.exception_id, links.agency_record_id
    FROM listed
    JOIN person_links AS links ON links.person_id = listed.person_id AND links.agency = listed.agency
),
own_record_ids AS (
    SELECT exception_id, string_agg(DISTINCT agency_record_id, '; ' ORDER BY agency_record_id) AS agency_record_ids
    FROM owner_links
    GROUP BY exception_id
),
other_agency_links AS (
    SELECT listed.exception_id, links.agency_record_id AS record_id
    FROM listed
    JOIN person_links AS links ON links.person_id = listed.person_id AND links.agency <> listed.agency
    WHERE NOT (listed.uses_la_child_id AND links.agency_record_id = listed.person_id)
),
other_agency_ids AS (
    -- the same child's record ids held by other agencies (and, for agencies outside the
    -- LA, the LA child id itself): never shown in this agency's files
    SELECT exception_id, record_id FROM other_agency_links
    ANTI JOIN owner_links
      ON owner_links.exception_id = other_agency_links.exception_id
     AND owner_links.agency_record_id = other_agency_links.record_id
    UNION
    SELECT exception_id, person_id
    FROM listed
    WHERE person_id IS NOT NULL AND NOT uses_la_child_id
),
hidden_ids AS (
    SELECT exception_id, list(DISTINCT record_id) AS hidden_ids
    FROM other_agency_ids
    WHERE record_id <> ''
    GROUP BY exception_id
)
SELECT
    listed.*,
    own_record_ids.agency_record_ids,
    coalesce(hidden_ids.hidden_ids, []) AS hidden_ids
FROM listed
LEFT JOIN own_record_ids ON own_record_ids.exception_id = listed.exception_id
LEFT JOIN hidden_ids ON hidden_ids.exception_id = listed.exception_id
ORDER BY listed.agency, listed.priority DESC, severity_rank(severity),
         listed.check_id, listed.person_id NULLS LAST, listed.entity_type, listed.entity_id, listed.exception_id
