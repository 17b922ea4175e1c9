-- The open exceptions of the current run, from the exceptions_current view (caseflags.outputs),
-- into the temp table the cohort and child queries read. Rows without a child are left out.
CREATE OR REPLACE TEMP TABLE audit_open_exceptions AS
SELECT exception_id, check_id, concern, severity, person_id, agency, entity_type, entity_id,
       detail, locator, CAST(status AS VARCHAR) AS status, CAST(first_seen AS DATE) AS first_seen
FROM exceptions_current
WHERE nullif(person_id, '') IS NOT NULL AND status IN ('NEW', 'OPEN');
