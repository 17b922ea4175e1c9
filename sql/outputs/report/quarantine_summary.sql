-- Quarantined rows of run $run_id, counted by table, file, column and reason.
SELECT table_name, file, column_name, reason, count(*) AS rows
FROM quarantine WHERE run_id = $run_id
GROUP BY ALL ORDER BY table_name, file, column_name, reason;
