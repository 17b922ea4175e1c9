-- The snapshot's recorded samples (the store's audit tables), newest first. DuckDB.
SELECT sample_id, as_at, seed, cohort, size, controls, warnings, audited_on, exceptions_source, exceptions_as_at,
       exclude_audited_within_days
FROM audit_samples
WHERE $sample_id IS NULL OR sample_id = $sample_id
ORDER BY as_at DESC, sample_id
LIMIT $limit
