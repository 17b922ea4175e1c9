-- Every (sample, child, check) a sample's check raised, for an outcome's flagged (DuckDB).
SELECT sample_id, person_id, check_id FROM audit_sample_concerns
