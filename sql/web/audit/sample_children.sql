SELECT person_id, position, role, age_band, need_type, open_exceptions, distinct_concerns, reasons
FROM audit_sample_children WHERE sample_id = :sample_id ORDER BY position
