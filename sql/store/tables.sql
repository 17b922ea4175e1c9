-- Internal store tables: run records, load ledger, quarantine, data-quality warnings,
-- identifier issues, contract results, person index, check results. Created by
-- caseflags.store.database.ensure_store; `CREATE TABLE IF NOT EXISTS` so existing history is kept.

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    as_at DATE NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    stages_json VARCHAR,
    extracts_json VARCHAR
);
CREATE TABLE IF NOT EXISTS extract_loads (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    file VARCHAR,
    status VARCHAR NOT NULL,          -- LOADED / UNCHANGED / REFUSED / ABSENT / FAILED_CONTRACT
    reason VARCHAR,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    content_sha256 VARCHAR,
    load_fingerprint VARCHAR,           -- file hash + parser version: equal means nothing to reload
    delivered_as_at DATE                -- as-at of the delivery whose data the table now holds
);
CREATE TABLE IF NOT EXISTS quarantine (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    raw_line VARCHAR,                   -- a prefix of at most [ingest] raw_line_prefix characters
    raw_length BIGINT                   -- the raw line's full length, in characters
);
-- Stores created before raw_length existed gain the column (NULL for their older rows).
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS raw_length BIGINT;
CREATE TABLE IF NOT EXISTS identifier_issues (
    table_name VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    column_name VARCHAR NOT NULL,
    identifier_type VARCHAR NOT NULL,   -- NHS_NUMBER / UPN
    agency VARCHAR,
    person_id VARCHAR,
    record_key VARCHAR,
    reason VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS contract_results (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    column_name VARCHAR,
    success BOOLEAN NOT NULL,
    blocking BOOLEAN NOT NULL,
    observed VARCHAR
);
CREATE TABLE IF NOT EXISTS person_links (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    match_probability DOUBLE
);
CREATE TABLE IF NOT EXISTS person_identifiers (
    person_id VARCHAR NOT NULL,
    identifier_type VARCHAR NOT NULL,
    identifier_value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS linkage_state (
    fingerprint VARCHAR,                -- inputs, decisions, thresholds and model of the last linkage
    linked_at TIMESTAMP,
    summary_json VARCHAR
);
CREATE TABLE IF NOT EXISTS exceptions (
    run_id VARCHAR NOT NULL,
    as_at DATE NOT NULL,
    exception_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR NOT NULL,
    person_id VARCHAR,
    agency VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    detail VARCHAR,
    locator VARCHAR
);
-- A check's optional magnitude (docs/ARCHITECTURE.md, "Checks"): how far past its threshold a
-- row is, on one scale where larger is worse; read by the priority score (sql/outputs/triage.sql).
CREATE TABLE IF NOT EXISTS exception_magnitudes (
    run_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    exception_id VARCHAR NOT NULL,
    magnitude DOUBLE NOT NULL,
    threshold DOUBLE,
    magnitude_unit VARCHAR
);
CREATE TABLE IF NOT EXISTS check_runs (
    run_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,            -- EVALUATED / NOT_EVALUATED
    reason VARCHAR,
    exception_count BIGINT
);
CREATE TABLE IF NOT EXISTS data_quality_warnings (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT,
    column_name VARCHAR,                -- column or element path
    reason VARCHAR NOT NULL,
    raw_value VARCHAR                   -- bounded prefix of the value as delivered
);
-- What a completed run's checks and output files were computed from (caseflags.outputs.reuse):
-- a rerun of the same as-at date whose basis is equal keeps them instead of recomputing.
CREATE TABLE IF NOT EXISTS run_results (
    run_id VARCHAR PRIMARY KEY,
    basis VARCHAR NOT NULL,             -- SHA-256 of everything the checks and outputs read
    run_dir VARCHAR NOT NULL,
    files_json VARCHAR NOT NULL,        -- {relative path: sha256} of the run folder, run.json excepted
    checks_json VARCHAR NOT NULL,       -- the run's check outcomes, as run.json records them
    retention_json VARCHAR,
    delivery_json VARCHAR,
    completed_at TIMESTAMP NOT NULL
);
-- Row-level change detection (caseflags.store.changes, issue 28): each live contract row's hash
-- as last published (DuckDB hash() over its typed values; row_key hashes the table's business
-- key, NULL for tables without one and for rows whose key is not unique), and per run and table
-- how many rows were new, changed, gone or unchanged against the night before.
CREATE TABLE IF NOT EXISTS row_hashes (
    table_name VARCHAR NOT NULL,
    row_key UBIGINT,
    row_hash UBIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS row_changes (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    keyed BOOLEAN NOT NULL,             -- compared by business key (else by row hash: new / gone only)
    baseline BOOLEAN NOT NULL,          -- no comparable hashes before (first load, other hash basis)
    rows_new BIGINT NOT NULL,
    rows_changed BIGINT NOT NULL,
    rows_gone BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    hash_basis VARCHAR NOT NULL         -- what the hashes depend on (DuckDB version, contract columns)
);
