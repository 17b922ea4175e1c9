-- Run $run_id's counts by check (with $agency, that agency's rows only), with each check's run status.
WITH history AS (
    SELECT * FROM exception_history
    WHERE run_id = $run_id AND ($agency IS NULL OR agency = $agency)
),
checks_seen AS (
    SELECT check_id FROM check_runs WHERE run_id = $run_id
    UNION SELECT check_id FROM history
),
counts AS (
    SELECT
        check_id,
        any_value(concern) AS concern,
        count(*) FILTER (WHERE status = 'NEW') AS new,
        count(*) FILTER (WHERE status = 'OPEN') AS open,
        count(*) FILTER (WHERE status = 'RESOLVED') AS resolved,
        count(*) FILTER (WHERE status IN ('NEW', 'OPEN')) AS listed
    FROM history
    GROUP BY check_id
)
SELECT
    checks_seen.check_id,
    counts.concern,
    coalesce(check_runs.status, 'NOT_EVALUATED') AS status,
    CASE WHEN check_runs.check_id IS NULL THEN 'no check result recorded for this run'
         ELSE check_runs.reason END AS reason,
    coalesce(counts.new, 0) AS new,
    coalesce(counts.open, 0) AS open,
    coalesce(counts.resolved, 0) AS resolved,
    coalesce(counts.listed, 0) AS listed
FROM checks_seen
LEFT JOIN check_runs ON check_runs.run_id = $run_id AND check_runs.check_id = checks_seen.check_id
LEFT JOIN counts ON counts.check_id = checks_seen.check_id
ORDER BY checks_seen.check_id
