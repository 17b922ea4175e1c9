-- Data-quality warnings of run $run_id by table, column and reason (counts only: the linkage section
-- shows how many partner records were linked with a field, such as a DOB, that could not be read).
SELECT table_name, column_name, reason, count(*) FROM data_quality_warnings WHERE run_id = $run_id
GROUP BY ALL ORDER BY ALL;
