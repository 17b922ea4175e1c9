-- Linkage tables kept across runs: possible matches for officers, officers' decisions
-- (never dropped), conflicts. Created by caseflags.store.database.ensure_store.

CREATE TABLE IF NOT EXISTS link_candidates (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    match_probability DOUBLE NOT NULL,
    evidence VARCHAR
);
CREATE TABLE IF NOT EXISTS link_decisions (
    decision_seq BIGINT NOT NULL,
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,          -- CONFIRMED / REJECTED
    decided_at TIMESTAMP NOT NULL,
    decided_by VARCHAR,
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS link_conflicts (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    conflict_types VARCHAR NOT NULL     -- comma-separated: DOB_MISMATCH, IDENTIFIER_SHARED, RECORD_MATCHES_TWO_CHILDREN
);
