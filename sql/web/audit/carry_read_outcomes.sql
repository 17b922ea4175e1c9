-- The workspace's outcomes, in the order they were recorded (SQLite).
SELECT outcome_id, sample_id, person_id, check_id, outcome, auditor_note, recorded_by, recorded_at
FROM audit_outcomes ORDER BY outcome_id
