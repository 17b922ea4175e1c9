-- The workspace's samples, for the carry (SQLite).
SELECT sample_id, drawn_by, drawn_at, result_json FROM audit_samples ORDER BY drawn_at, sample_id
