-- The store's outcomes of one sample (imported from Excel, or carried from here). DuckDB, the snapshot.
SELECT person_id, check_id, flagged, outcome, auditor_note, recorded_at, source_file
FROM audit_outcomes WHERE sample_id = $sample_id ORDER BY recorded_at, person_id, check_id
