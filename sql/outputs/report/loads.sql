-- The load record of each contract table for run $run_id.
SELECT table_name, file, status, reason, rows_read, rows_loaded, rows_quarantined, delivered_as_at
FROM extract_loads WHERE run_id = $run_id ORDER BY table_name;
