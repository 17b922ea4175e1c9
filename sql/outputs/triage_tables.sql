-- Priority and owners of each run's listed exceptions, and each child's priority
-- (filled by sql/outputs/triage.sql; docs/OUTPUTS.md, "Priority and owners").
CREATE TABLE IF NOT EXISTS exception_triage (
    run_id VARCHAR NOT NULL,
    exception_id VARCHAR NOT NULL,
    person_id VARCHAR,
    priority DOUBLE NOT NULL,
    priority_reason VARCHAR NOT NULL,
    owner_name VARCHAR,              -- the allocated worker (social care), the school / practice, the agency
    owner_team VARCHAR,              -- the worker's team; the agency for partners; '<AGENCY> central queue'
    owner_professional_id VARCHAR,   -- social care worker id (officers' filters; never shown to partners)
    organisation VARCHAR,            -- school URN / GP practice code
    central_queue_reason VARCHAR,    -- set when a GP or EDUCATION row has no organisation
    social_worker_name VARCHAR,      -- the child's allocated social worker at the as-at date
    social_worker_team VARCHAR,
    plain_locator VARCHAR,           -- the locator without table or column names
    plain_detail VARCHAR             -- the detail without table or column names
);
CREATE TABLE IF NOT EXISTS child_priority (
    run_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    priority DOUBLE NOT NULL,        -- the highest priority of the child's listed rows
    priority_reason VARCHAR NOT NULL,
    open_concerns INTEGER NOT NULL,  -- distinct checks listed for the child, across agencies
    open_exceptions INTEGER NOT NULL,
    agencies VARCHAR,                -- owner agencies of the child's rows, '; '-joined
    concerns VARCHAR,                -- short names of the checks, '; '-joined, highest priority first
    top_exception_id VARCHAR,
    social_worker_name VARCHAR,
    social_worker_team VARCHAR,
    rank INTEGER NOT NULL            -- 1 = act first; ties broken by person_id
);
