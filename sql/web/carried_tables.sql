-- In the store: which workspace rows the nightly has carried (caseflags/web/carry.py), so each is
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
