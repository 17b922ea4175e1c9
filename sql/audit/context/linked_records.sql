-- Audit pack context: linked records of the child $person_id.
SELECT agency, agency_record_id, method
FROM person_links WHERE person_id = $person_id
ORDER BY agency, agency_record_id
