SELECT 1 FROM audit_samples WHERE sample_id = :sample_id
