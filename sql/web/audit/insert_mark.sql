-- "Mark audited" in the browser; the latest mark of a sample is its audit date.
INSERT INTO audit_marks (sample_id, audited_on, marked_by, marked_at) VALUES (:sample_id, :audited_on, :marked_by, :marked_at)
