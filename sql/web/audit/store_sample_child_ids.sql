SELECT person_id FROM audit_sample_children WHERE sample_id = $sample_id ORDER BY position
