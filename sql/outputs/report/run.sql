-- The run row of run $run_id.
SELECT * FROM runs WHERE run_id = $run_id;
