-- Person linkage: the tables linkage keeps in the store beyond person_links / person_identifiers
-- (sql/schema.sql's internal tables). CREATE ... IF NOT EXISTS: officers' decisions are never dropped.

CREATE TABLE IF NOT EXISTS link_candidates (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    match_probability DOUBLE NOT NULL,
    evidence VARCHAR
);
-- Issue 26: what kind of candidate (POSSIBLE_MATCH, or POSSIBLE_SIBLING: same surname and
-- postcode, clearly another forename; match_probability is then the household probability),
-- the model's raw probability and match weight. Added to stores made before.
ALTER TABLE link_candidates ADD COLUMN IF NOT EXISTS kind VARCHAR;
ALTER TABLE link_candidates ADD COLUMN IF NOT EXISTS raw_probability DOUBLE;
ALTER TABLE link_candidates ADD COLUMN IF NOT EXISTS match_weight DOUBLE;

-- Why linked: each field's match weight (splink's waterfall) for every probabilistic link and
-- possible match of the last run; position 0 is the prior, then forename, surname, dob, sex,
-- postcode. The weights sum to the pair's match weight (log2 of the odds of a match).
CREATE TABLE IF NOT EXISTS link_match_weights (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    comparison VARCHAR NOT NULL,
    level VARCHAR,                      -- the agreement level, e.g. "surname same" (no values)
    match_weight DOUBLE
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

-- The model in use: one row per comparison level, with how and when it was trained and the
-- expected quality at the thresholds (parameters and counts only: no personal data).
CREATE TABLE IF NOT EXISTS linkage_model (
    trained_at TIMESTAMP,
    training_method VARCHAR NOT NULL,    -- EM / LABELS / LABELS+EM / PRIOR
    labelled_pairs BIGINT,               -- pairs identifiers or officers linked, at training
    label_weight DOUBLE,                 -- share of m taken from those labels (the rest from EM)
    em_sessions VARCHAR,                 -- the EM blocking rules, ' | '-separated
    probability_two_random_records_match DOUBLE,
    comparison VARCHAR NOT NULL,
    gamma INTEGER NOT NULL,              -- splink's agreement level, best highest, -1 = missing
    level_label VARCHAR,
    m_probability DOUBLE,
    u_probability DOUBLE,
    match_weight DOUBLE                  -- log2(m / u)
);

-- Expected precision and recall at the configured thresholds, from clerical labels (pairs
-- identifiers settle and officers' decisions), as of the last linkage run.
CREATE TABLE IF NOT EXISTS linkage_expected_quality (
    assessed_at TIMESTAMP NOT NULL,
    threshold_name VARCHAR NOT NULL,     -- match / review
    threshold DOUBLE NOT NULL,
    labelled_pairs BIGINT NOT NULL,      -- true pairs among the labels
    labelled_non_matches BIGINT NOT NULL,
    expected_precision DOUBLE,
    expected_recall DOUBLE,
    basis VARCHAR NOT NULL
);

-- Incremental linkage (issue 28): the model's pair scores of the last linkage, kept so a night
-- scores only the records (children) whose compared fields changed. `features` hashes the
-- compared fields of a record (child) as scored; `model_key` names the model (with its frozen
-- name frequencies) and threshold they were scored with: another model scores everything again.
CREATE TABLE IF NOT EXISTS link_pair_scores (
    agency VARCHAR, agency_record_id VARCHAR, person_id VARCHAR, match_probability DOUBLE, evidence VARCHAR,
    agrees_on_identity BOOLEAN, forenames_close BOOLEAN, match_weight DOUBLE,
    gamma_forename INTEGER, gamma_surname INTEGER, gamma_dob INTEGER, gamma_sex INTEGER, gamma_postcode INTEGER,
    weight_forename DOUBLE, weight_surname DOUBLE, weight_dob DOUBLE, weight_sex DOUBLE, weight_postcode DOUBLE
);
CREATE TABLE IF NOT EXISTS link_scored_records (
    agency VARCHAR NOT NULL,
    agency_record_id VARCHAR NOT NULL,
    features UBIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS link_scored_children (
    person_id VARCHAR NOT NULL,
    features UBIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS link_score_basis (
    model_key VARCHAR NOT NULL
);
