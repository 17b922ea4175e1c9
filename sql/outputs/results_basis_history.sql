-- The other runs a run's outputs are compared with or list (caseflags.outputs.reuse): the runs
-- in the lifecycle and the run history, this run id left out (its own earlier try is what a
-- rerun replaces). A run of another date entering, leaving or failing changes the basis.
SELECT 'lifecycle' AS source, run_id, CAST(seq AS VARCHAR) AS state, CAST(as_at AS VARCHAR) AS detail
FROM lifecycle_runs
WHERE run_id <> $run_id
UNION ALL
SELECT 'run', run_id, status, CAST(finished_at AS VARCHAR)
FROM runs
WHERE run_id <> $run_id
ORDER BY source, run_id;
