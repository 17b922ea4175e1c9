-- Every outcome recorded in the browser, oldest first, for the confirmation rates (SQLite).
SELECT outcome_id, sample_id, person_id, check_id, flagged, outcome FROM audit_outcomes ORDER BY outcome_id
