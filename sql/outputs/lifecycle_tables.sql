-- Exception lifecycle and review annotations (caseflags.outputs.lifecycle; docs/OUTPUTS.md).
CREATE TABLE IF NOT EXISTS lifecycle_runs (
    run_id VARCHAR PRIMARY KEY,
    as_at DATE NOT NULL,
    seq INTEGER NOT NULL,             -- order in which runs entered the lifecycle
    previous_run_id VARCHAR           -- the run this one is compared with (NULL for the first)
);
CREATE TABLE IF NOT EXISTS exception_history (
    run_id VARCHAR NOT NULL,
    as_at DATE NOT NULL,
    exception_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR,
    person_id VARCHAR,
    agency VARCHAR NOT NULL,
    entity_type VARCHAR,
    entity_id VARCHAR,
    detail VARCHAR,
    locator VARCHAR,
    first_seen DATE NOT NULL,         -- as-at of the first run that raised it
    status VARCHAR NOT NULL,          -- NEW / OPEN / RESOLVED
    evaluated_as_at DATE NOT NULL     -- as-at of the run whose check produced this row (older when carried)
);
-- Priority and owners of each listed row (issue 25), set by the triage (sql/outputs/triage.sql)
-- after the lifecycle: on the history row itself, where the web workspace reads them.
ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS priority DOUBLE;
ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS priority_reason VARCHAR;
ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS owner_name VARCHAR;
ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS owner_team VARCHAR;
ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS owner_professional_id VARCHAR;
ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS central_queue_reason VARCHAR;
CREATE TABLE IF NOT EXISTS annotations (
    exception_id VARCHAR NOT NULL,
    review_status VARCHAR NOT NULL,
    review_note VARCHAR,
    annotated_at TIMESTAMP NOT NULL,
    source_file VARCHAR,
    expires_on DATE,                  -- FALSE_POSITIVE / ACCEPTED_RISK only
    import_seq INTEGER NOT NULL       -- orders annotations made at the same instant
);
