-- Run $run_id's counts by agency (with $agency, that agency only).
SELECT
    agency,
    count(*) FILTER (WHERE status = 'NEW') AS new,
    count(*) FILTER (WHERE status = 'OPEN') AS open,
    count(*) FILTER (WHERE status = 'RESOLVED') AS resolved,
    count(*) FILTER (WHERE status IN ('NEW', 'OPEN')) AS listed
FROM exception_history
WHERE run_id = $run_id AND ($agency IS NULL OR agency = $agency)
GROUP BY agency
ORDER BY agency
