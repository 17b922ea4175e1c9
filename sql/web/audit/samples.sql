-- The workspace's samples (one, or all), newest first. SQLite.
SELECT s.sample_id, s.as_at, s.seed, s.cohort, s.size, s.controls, s.warnings, s.drawn_by, s.drawn_at
FROM audit_samples AS s
WHERE :sample_id IS NULL OR s.sample_id = :sample_id
ORDER BY s.as_at DESC, s.drawn_at DESC
LIMIT :limit
