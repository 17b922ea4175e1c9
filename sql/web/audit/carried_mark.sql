INSERT INTO web_audit_marks_carried VALUES ($id, $sample, $by, $now)
