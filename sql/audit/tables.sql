-- Audit sample tables (caseflags.audit; docs/AUDIT_SAMPLE.md).
CREATE TABLE IF NOT EXISTS audit_samples (
    sample_id VARCHAR PRIMARY KEY,
    as_at DATE NOT NULL,
    seed BIGINT NOT NULL,
    cohort VARCHAR NOT NULL,
    size INTEGER NOT NULL,
    controls INTEGER NOT NULL,
    exclude_audited_within_days INTEGER NOT NULL,
    exceptions_source VARCHAR NOT NULL,     -- 'exceptions_current' or 'exceptions run <run_id>'
    exceptions_as_at DATE,
    warnings VARCHAR,
    audited_on DATE                         -- NULL until the audit is recorded
);
CREATE TABLE IF NOT EXISTS audit_sample_children (
    sample_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    role VARCHAR NOT NULL,                  -- FLAGGED / CONTROL
    age_band VARCHAR NOT NULL,
    need_type VARCHAR NOT NULL,
    weight INTEGER NOT NULL,
    open_exceptions INTEGER NOT NULL,
    distinct_concerns INTEGER NOT NULL,
    reasons VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_sample_concerns (
    sample_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR NOT NULL,              -- highest severity of the child's exceptions of the check
    exception_count INTEGER NOT NULL,
    exception_ids VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_outcomes (
    sample_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    flagged BOOLEAN NOT NULL,               -- the check raised it for the child when sampled
    outcome VARCHAR NOT NULL,               -- CONFIRMED / NOT_A_CONCERN
    auditor_note VARCHAR,
    recorded_at TIMESTAMP NOT NULL,
    source_file VARCHAR
);
