-- The open exceptions of the sampled children ($person_ids), highest severity first.
SELECT person_id, exception_id, check_id, concern, severity, agency, entity_type, entity_id, detail, locator,
       status, first_seen
FROM audit_open_exceptions
WHERE list_contains($person_ids, person_id)
ORDER BY person_id, severity_rank(severity), check_id, exception_id
