-- The lifecycle counts of the last $limit runs up to run $run_id, newest first.
WITH this_run AS (SELECT seq FROM lifecycle_runs WHERE run_id = $run_id)
SELECT run_id, as_at, new, open, resolved
FROM run_history
WHERE lifecycle_seq <= (SELECT seq FROM this_run)
ORDER BY lifecycle_seq DESC
LIMIT $limit;
