-- The exceptions a recorded sample's concerns name (exception_ids), as the run it was drawn from
-- listed them (the latest row of each id on or before that run), with the status and first-seen
-- date `caseflags sample` read then: the lifecycle's as at that run when it drew from
-- exceptions_current ($source), else OPEN and none (open_exceptions_of_run.sql). DuckDB, the snapshot.
WITH wanted AS (
    SELECT person_id, trim(unnest(string_split(exception_ids, ','))) AS exception_id
    FROM audit_sample_concerns WHERE sample_id = $sample_id
),
listed AS (
    SELECT history.exception_id, CAST(history.status AS VARCHAR) AS status, CAST(history.first_seen AS DATE) AS first_seen
    FROM exception_history AS history
    JOIN lifecycle_runs AS runs USING (run_id)
    WHERE $source = 'exceptions_current' AND history.as_at = $as_at
    QUALIFY row_number() OVER (PARTITION BY history.exception_id ORDER BY runs.seq DESC) = 1
)
SELECT wanted.person_id, x.exception_id, x.check_id, x.concern, x.severity, x.agency, x.entity_type, x.entity_id,
       x.detail, x.locator,
       CASE WHEN $source = 'exceptions_current' THEN coalesce(listed.status, 'OPEN') ELSE 'OPEN' END AS status,
       listed.first_seen
FROM wanted
JOIN exceptions AS x USING (exception_id)
LEFT JOIN listed USING (exception_id)
WHERE x.as_at <= $as_at
QUALIFY row_number() OVER (PARTITION BY wanted.person_id, x.exception_id ORDER BY x.as_at DESC) = 1
ORDER BY wanted.person_id, severity_rank(x.severity), x.check_id, x.exception_id
