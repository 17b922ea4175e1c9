-- Every outcome recorded in the browser for one sample, oldest first (the history; the last per
-- child and check is the outcome).
SELECT outcome_id, sample_id, person_id, check_id, flagged, outcome, auditor_note, recorded_by, recorded_at
FROM audit_outcomes WHERE sample_id = :sample_id ORDER BY outcome_id
