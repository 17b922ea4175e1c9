-- The exceptions a recorded sample's concerns name (exception_ids), as the run it was drawn from
-- listed them (the latest row of each id on or before that run). DuckDB, the snapshot.
WITH wanted AS (
    SELECT person_id, trim(unnest(string_split(exception_ids, ','))) AS exception_id
    FROM audit_sample_concerns WHERE sample_id = $sample_id
)
SELECT wanted.person_id, x.exception_id, x.check_id, x.concern, x.severity, x.agency, x.entity_type, x.entity_id,
       x.detail, x.locator
FROM wanted
JOIN exceptions AS x USING (exception_id)
WHERE x.as_at <= $as_at
QUALIFY row_number() OVER (PARTITION BY wanted.person_id, x.exception_id ORDER BY x.as_at DESC) = 1
ORDER BY wanted.person_id, CASE x.severity WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 ELSE 3 END, x.check_id, x.exception_id
