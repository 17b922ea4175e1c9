-- Failed data-contract expectations of run $run_id, blocking first (observed value cut to 160 characters).
SELECT table_name, expectation, column_name, blocking, left(observed, 160) AS observed
FROM contract_results WHERE run_id = $run_id AND NOT success
ORDER BY blocking DESC, table_name, expectation, column_name;
