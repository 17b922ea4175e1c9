-- The listed rows of each school or practice, masked, with its own identifiers
-- (caseflags.outputs.organisations.organisation_rows; reads exception_agency_rows).
SELECT listed.exception_id, listed.check_id, listed.concern, listed.severity, listed.agency,
       listed.person_id, rows.organisation, rows.agency_record_ids,
       rows.agency_nhs_number AS nhs_number, rows.agency_upn AS upn, listed.entity_type,
       rows.agency_entity_id AS entity_id, rows.agency_detail AS detail, rows.agency_locator AS locator,
       listed.first_seen, listed.status, listed.review_status, listed.review_note, listed.as_at,
       listed.priority, listed.priority_reason, listed.social_worker_name, listed.social_worker_team
FROM exceptions_listed AS listed
JOIN exception_agency_rows AS rows ON rows.run_id = listed.run_id AND rows.exception_id = listed.exception_id
WHERE listed.run_id = $run_id AND rows.organisation IS NOT NULL
ORDER BY listed.agency, rows.organisation, listed.priority DESC,
         severity_rank(listed.severity), listed.check_id,
         rows.agency_record_ids NULLS LAST, listed.exception_id;
