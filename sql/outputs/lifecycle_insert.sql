-- A run's exception history: NEW / OPEN / RESOLVED against $previous_run_id, carrying
-- the open rows of checks not evaluated this run.
INSERT INTO exception_history (run_id, as_at, exception_id, check_id, concern, severity, person_id, agency,
    entity_type, entity_id, detail, locator, first_seen, status, evaluated_as_at)
WITH previous_listed AS (
    SELECT * FROM exception_history WHERE run_id = $previous_run_id AND status IN ('NEW', 'OPEN')
),
raised_now AS (
    SELECT * FROM exceptions WHERE run_id = $run_id
    QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY check_id, agency) = 1
),
evaluated_checks AS (
    SELECT check_id FROM check_runs WHERE run_id = $run_id AND status = 'EVALUATED'
    UNION
    SELECT check_id FROM raised_now
),
first_seen_earlier AS (
    SELECT history.exception_id, min(history.first_seen) AS first_seen
    FROM exception_history AS history
    JOIN lifecycle_runs ON lifecycle_runs.run_id = history.run_id
    WHERE lifecycle_runs.seq < $seq
      AND history.exception_id IN (SELECT exception_id FROM raised_now)
    GROUP BY history.exception_id
),
raised AS (
    SELECT
        $run_id AS run_id, $as_at AS as_at, raised_now.exception_id, raised_now.check_id,
        raised_now.concern, raised_now.severity, raised_now.person_id, raised_now.agency,
        raised_now.entity_type, raised_now.entity_id, raised_now.detail, raised_now.locator,
        least(coalesce(first_seen_earlier.first_seen, $as_at), $as_at) AS first_seen,
        CASE WHEN previous_listed.exception_id IS NULL THEN 'NEW' ELSE 'OPEN' END AS status,
        $as_at AS evaluated_as_at
    FROM raised_now
    LEFT JOIN previous_listed ON previous_listed.exception_id = raised_now.exception_id
    LEFT JOIN first_seen_earlier ON first_seen_earlier.exception_id = raised_now.exception_id
),
no_longer_raised AS (
    SELECT previous_listed.*, previous_listed.check_id IN (SELECT check_id FROM evaluated_checks) AS check_evaluated
    FROM previous_listed
    WHERE previous_listed.exception_id NOT IN (SELECT exception_id FROM raised_now)
),
carried_or_resolved AS (
    -- A check not evaluated this run cannot say its exceptions are gone: carry them as open.
    SELECT
        $run_id AS run_id, $as_at AS as_at, exception_id, check_id, concern, severity, person_id,
        agency, entity_type, entity_id, detail, locator, first_seen,
        CASE WHEN check_evaluated THEN 'RESOLVED' ELSE 'OPEN' END AS status,
        evaluated_as_at
    FROM no_longer_raised
)
SELECT * FROM raised
UNION ALL
SELECT * FROM carried_or_resolved
