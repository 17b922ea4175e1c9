-- The workspace database (SQLite, WAL mode, 0600), beside the store: <store>.web.sqlite.
-- Written by `caseflags web` and `caseflags users`; read by the nightly, which carries reviews
-- and link decisions into the DuckDB store. Rows are only ever appended, except users.
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('officer', 'agency')),
    agency TEXT,
    org TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    professional TEXT          -- the worker this login is (`users add --professional`); older workspaces get it added
);
CREATE TABLE IF NOT EXISTS reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    exception_id TEXT NOT NULL,
    review_status TEXT NOT NULL,
    review_note TEXT,
    reviewer TEXT NOT NULL,
    created_at TEXT NOT NULL,          -- ISO timestamp, UTC, microseconds
    expires_on TEXT,                   -- FALSE_POSITIVE / ACCEPTED_RISK only
    bulk_id TEXT                       -- set when saved as part of a bulk review
);
CREATE INDEX IF NOT EXISTS reviews_by_exception ON reviews (exception_id, review_id);
CREATE TABLE IF NOT EXISTS assignments (
    assignment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    exception_id TEXT NOT NULL,
    assignee TEXT,                     -- NULL: unassigned
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assignments_by_exception ON assignments (exception_id, assignment_id);
CREATE TABLE IF NOT EXISTS link_decisions (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
    agency TEXT NOT NULL,
    agency_record_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('CONFIRMED', 'REJECTED')),
    note TEXT,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    username TEXT NOT NULL,
    client TEXT NOT NULL,
    failed_at REAL NOT NULL            -- epoch seconds
);
CREATE INDEX IF NOT EXISTS login_failures_by_time ON login_failures (failed_at);
-- Who opened which kind of page: the route pattern and the filter NAMES, never ids or search text.
CREATE TABLE IF NOT EXISTS access_log (
    at TEXT NOT NULL,
    username TEXT,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    filters TEXT,
    status INTEGER NOT NULL,
    rows INTEGER
);
-- Audit samples drawn in the browser (caseflags.web.audit), carried into the store's audit tables
-- by the nightly and by `caseflags sample` commands (by sample_id, once). result_json is the
-- whole SampleResult, so the workspace's packs are the CLI's.
CREATE TABLE IF NOT EXISTS audit_samples (
    sample_id TEXT PRIMARY KEY,
    as_at TEXT NOT NULL,
    seed INTEGER NOT NULL,
    cohort TEXT NOT NULL,
    size INTEGER NOT NULL,
    controls INTEGER NOT NULL,
    exclude_audited_within_days INTEGER NOT NULL,
    exceptions_source TEXT NOT NULL,
    exceptions_as_at TEXT,
    warnings TEXT,
    drawn_by TEXT NOT NULL,
    drawn_at TEXT NOT NULL,
    result_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_sample_children (
    sample_id TEXT NOT NULL REFERENCES audit_samples (sample_id),
    person_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    age_band TEXT NOT NULL,
    need_type TEXT NOT NULL,
    weight INTEGER NOT NULL,
    open_exceptions INTEGER NOT NULL,
    distinct_concerns INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    PRIMARY KEY (sample_id, person_id)
);
CREATE TABLE IF NOT EXISTS audit_sample_concerns (
    sample_id TEXT NOT NULL REFERENCES audit_samples (sample_id),
    person_id TEXT NOT NULL,
    check_id TEXT NOT NULL,
    concern TEXT,
    severity TEXT NOT NULL,
    exception_count INTEGER NOT NULL,
    exception_ids TEXT NOT NULL
);
-- Auditors' outcomes per (sample, child, check), appended: the latest is the outcome, the rest its history.
-- sample_id may name a sample drawn by `caseflags sample` (in the store, not here).
CREATE TABLE IF NOT EXISTS audit_outcomes (
    outcome_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    check_id TEXT NOT NULL,
    flagged INTEGER NOT NULL,          -- the check raised it for the child when sampled
    outcome TEXT NOT NULL CHECK (outcome IN ('CONFIRMED', 'NOT_A_CONCERN')),
    auditor_note TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_outcomes_by_sample ON audit_outcomes (sample_id, outcome_id);
-- "Mark audited", appended: the latest mark of a sample is its audit date.
CREATE TABLE IF NOT EXISTS audit_marks (
    mark_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id TEXT NOT NULL,
    audited_on TEXT NOT NULL,
    marked_by TEXT NOT NULL,
    marked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_by_client ON login_failures (client, failed_at);
-- Logged-in sessions: the cookie holds a random id, this table its SHA-256 (a copy of the database
-- opens no session). Logout, a password change, disabling the user and expiry delete the row, so
-- a cookie captured before then opens nothing.
CREATE TABLE IF NOT EXISTS web_sessions (
    session_key TEXT PRIMARY KEY,      -- sha256 hex of the session id
    username TEXT NOT NULL,
    created_at REAL NOT NULL,          -- epoch seconds
    expires_at REAL NOT NULL           -- epoch seconds: created_at + web.session_hours
);
CREATE INDEX IF NOT EXISTS web_sessions_by_user ON web_sessions (username);
-- A form posted after its session ended, kept for the page it came from to offer again after
-- login (never applied by itself): a random token's SHA-256, the page, the fields. Deleted when
-- taken back, or after an hour.
CREATE TABLE IF NOT EXISTS stashed_forms (
    token_key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    fields TEXT NOT NULL,              -- JSON object of the posted fields, CSRF token left out
    stashed_at REAL NOT NULL           -- epoch seconds
);
