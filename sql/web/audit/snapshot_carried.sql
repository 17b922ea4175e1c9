-- The workspace rows the store had when the snapshot was published: audit marks and outcomes by
-- their workspace row id (DuckDB, the snapshot; the tables exist once anything was carried).
SELECT 'mark' AS kind, web_mark_id AS id FROM web_audit_marks_carried
UNION ALL SELECT 'outcome', web_outcome_id FROM web_audit_outcomes_carried
