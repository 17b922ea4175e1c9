-- The latest completed run on or before $as_at.
SELECT run_id, as_at
FROM runs
WHERE status = 'COMPLETED' AND as_at <= $as_at
ORDER BY as_at DESC, started_at DESC, run_id DESC
LIMIT 1
