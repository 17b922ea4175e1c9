-- Every outcome in the store, for the confirmation rates (DuckDB, the snapshot).
SELECT sample_id, person_id, check_id, flagged, outcome FROM audit_outcomes
