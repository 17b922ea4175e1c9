-- Run $run_id's listed (NEW / OPEN) exceptions with their review, in file order.
SELECT *
FROM exceptions_listed
WHERE run_id = $run_id
ORDER BY check_id, CASE severity WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 3 ELSE 4 END, agency, person_id NULLS LAST, entity_type, entity_id, exception_id
