-- The rows of the exceptions workbook written for run $run_id (with $agency, that agency's own
-- workbook): (check_id, exception_id) of every listed exception, as write_run_outputs wrote them.
SELECT check_id, exception_id
FROM exceptions_listed
WHERE run_id = $run_id AND ($agency IS NULL OR agency = $agency)
