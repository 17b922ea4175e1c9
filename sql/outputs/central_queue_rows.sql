-- Run $run_id's GP and EDUCATION rows whose school or practice cannot be found (the agency's
-- central queue, docs/OUTPUTS.md "Priority and owners"), masked as the agency files, with the reason.
SELECT listed.exception_id, listed.check_id, listed.concern, listed.severity, listed.agency,
       rows.agency_record_ids, rows.agency_nhs_number AS nhs_number, rows.agency_upn AS upn,
       CASE WHEN listed.agency = 'EDUCATION' THEN listed.person_id END AS person_id,
       listed.entity_type, rows.agency_entity_id AS entity_id, rows.agency_detail AS detail,
       rows.agency_locator AS locator, listed.first_seen, listed.status, listed.review_status,
       listed.review_note, listed.as_at, listed.priority, listed.priority_reason,
       listed.social_worker_name, listed.social_worker_team, listed.central_queue_reason
FROM exceptions_listed AS listed
JOIN exception_agency_rows AS rows ON rows.run_id = listed.run_id AND rows.exception_id = listed.exception_id
WHERE listed.run_id = $run_id AND listed.central_queue_reason IS NOT NULL
  AND listed.agency IN ('GP', 'EDUCATION')
ORDER BY listed.agency, listed.priority DESC, listed.check_id, listed.exception_id

