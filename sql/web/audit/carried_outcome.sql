INSERT INTO web_audit_outcomes_carried VALUES ($id, $sample, $by, $now)
