-- Officers' decisions the nightly has carried into the store (every one, oldest first).
SELECT agency, agency_record_id, person_id, decision, decided_at, decided_by, note
FROM link_decisions
ORDER BY decided_at, decision_seq
