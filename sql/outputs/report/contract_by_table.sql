-- Data-contract expectations of run $run_id per table: how many, how many failed, how many blocking.
SELECT table_name,
       count(*) AS expectations,
       count(*) FILTER (WHERE NOT success) AS failed,
       count(*) FILTER (WHERE NOT success AND blocking) AS blocking_failed
FROM contract_results WHERE run_id = $run_id
GROUP BY table_name ORDER BY table_name;
