-- A workspace sample is in the store now (DuckDB).
INSERT INTO web_audit_samples_carried VALUES ($id, $by, $at, $now)
