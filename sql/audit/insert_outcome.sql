-- One auditor outcome for a (sample, child, check).
INSERT INTO audit_outcomes (sample_id, person_id, check_id, flagged, outcome, auditor_note, recorded_at, source_file)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
