-- What a web snapshot must carry to be current: every completed run (and the run being completed,
-- $run_id) with the time its results were computed. Read from the store and from the snapshot;
-- when they differ the snapshot is older than the last completed run and is published again.
SELECT coalesce(string_agg(runs.run_id || '@' || coalesce(CAST(results.completed_at AS VARCHAR), '-'), ','
                           ORDER BY runs.run_id), '') AS snapshot_key
FROM runs
LEFT JOIN run_results AS results ON results.run_id = runs.run_id
WHERE runs.status = 'COMPLETED' OR runs.run_id = $run_id
