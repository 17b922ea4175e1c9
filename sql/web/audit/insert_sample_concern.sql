INSERT INTO audit_sample_concerns (sample_id, person_id, check_id, concern, severity, exception_count, exception_ids)
VALUES (:sample_id, :person_id, :check_id, :concern, :severity, :count, :ids)
