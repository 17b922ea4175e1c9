SELECT result_json, drawn_by, drawn_at FROM audit_samples WHERE sample_id = :sample_id
