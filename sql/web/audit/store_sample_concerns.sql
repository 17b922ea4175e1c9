SELECT person_id, check_id, severity, exception_count FROM audit_sample_concerns
WHERE sample_id = $sample_id ORDER BY person_id, check_id
