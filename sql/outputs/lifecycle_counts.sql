-- Counts of run $run_id's history: NEW, OPEN, RESOLVED, and OPEN rows carried from an earlier run.
SELECT
    count(*) FILTER (WHERE status = 'NEW'),
    count(*) FILTER (WHERE status = 'OPEN'),
    count(*) FILTER (WHERE status = 'RESOLVED'),
    count(*) FILTER (WHERE status = 'OPEN' AND evaluated_as_at < as_at)
FROM exception_history WHERE run_id = $run_id
