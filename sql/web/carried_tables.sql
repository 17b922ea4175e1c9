-- In the store: which workspace rows the nightly has carried (caseflags/workspace/carry.py), so each is
-- carried exactly once, and who made each carried review (annotations has no reviewer column).
CREATE TABLE IF NOT EXISTS web_reviews_carried (
    web_review_id BIGINT PRIMARY KEY,
    exception_id VARCHAR NOT NULL,
    reviewer VARCHAR NOT NULL,
    annotated_at TIMESTAMP NOT NULL,
    carried_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS web_link_decisions_carried (
    web_decision_id BIGINT PRIMARY KEY
);
-- Audit work carried from the workspace (caseflags/workspace/carry_audit.py): samples by id (with who drew
-- them, as audit_samples has no such column), outcomes and audit marks by their workspace row id.
CREATE TABLE IF NOT EXISTS web_audit_samples_carried (
    sample_id VARCHAR PRIMARY KEY,
    drawn_by VARCHAR NOT NULL,
    drawn_at TIMESTAMP NOT NULL,
    carried_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS web_audit_outcomes_carried (
    web_outcome_id BIGINT PRIMARY KEY,
    sample_id VARCHAR NOT NULL,
    recorded_by VARCHAR NOT NULL,
    carried_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS web_audit_marks_carried (
    web_mark_id BIGINT PRIMARY KEY,
    sample_id VARCHAR NOT NULL,
    marked_by VARCHAR NOT NULL,
    carried_at TIMESTAMP NOT NULL
);
-- Assignments saved in the workspace, carried so the nightly's files name who is assigned to each
-- exception (the latest assignment of an exception wins; assignee NULL = unassigned).
CREATE TABLE IF NOT EXISTS web_assignments_carried (
    web_assignment_id BIGINT PRIMARY KEY,
    exception_id VARCHAR NOT NULL,
    assignee VARCHAR,
    assigned_by VARCHAR NOT NULL,
    assigned_at TIMESTAMP NOT NULL,
    carried_at TIMESTAMP NOT NULL
);
