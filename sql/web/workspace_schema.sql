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
    password_changed_at TEXT NOT NULL
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
