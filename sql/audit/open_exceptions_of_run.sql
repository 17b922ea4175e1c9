-- The exceptions raised by run $run_id (every row of a run is open in that run), into the temp
-- table the cohort and child queries read. Rows without a child are left out.
CREATE OR REPLACE TEMP TABLE audit_open_exceptions AS
SELECT exception_id, check_id, concern, severity, person_id, agency, entity_type, entity_id,
       detail, locator, 'OPEN' AS status, CAST(NULL AS DATE) AS first_seen
FROM exceptions
WHERE run_id = $run_id AND nullif(person_id, '') IS NOT NULL;
