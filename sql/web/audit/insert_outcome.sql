-- One auditor's outcome recorded in the browser; never updated (the latest per child and check counts).
INSERT INTO audit_outcomes (sample_id, person_id, check_id, flagged, outcome, auditor_note, recorded_by, recorded_at)
VALUES (:sample_id, :person_id, :check_id, :flagged, :outcome, :note, :recorded_by, :recorded_at)
