-- What the store already has: sample ids recorded, samples / marks / outcomes carried (DuckDB).
SELECT 'stored' AS kind, sample_id AS id FROM audit_samples
UNION ALL SELECT 'sample', sample_id FROM web_audit_samples_carried
UNION ALL SELECT 'mark', CAST(web_mark_id AS VARCHAR) FROM web_audit_marks_carried
UNION ALL SELECT 'outcome', CAST(web_outcome_id AS VARCHAR) FROM web_audit_outcomes_carried
