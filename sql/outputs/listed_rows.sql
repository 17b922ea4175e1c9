-- Run $run_id's listed (NEW / OPEN) exceptions with their review, in file order: priority first
-- (sql/outputs/triage.sql), ties by severity and stable keys. Detail and locator in plain words.
SELECT * REPLACE (plain_detail AS detail, plain_locator AS locator)
FROM exceptions_listed
WHERE run_id = $run_id
ORDER BY priority DESC, CASE severity WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 3 ELSE 4 END, check_id, agency,
         person_id NULLS LAST, entity_type, entity_id, exception_id
