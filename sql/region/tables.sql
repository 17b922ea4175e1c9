-- The regional store (docs/SCALE.md): only what each authority agreed to share, keyed by its LA
-- code and its OWN ids (no regional person id is imposed on an authority). Rows of one
-- authority are replaced together when it shares again.

CREATE TABLE IF NOT EXISTS region_authorities (
    la_code VARCHAR NOT NULL,
    name VARCHAR,
    sharing VARCHAR NOT NULL,           -- ids / exceptions
    as_at DATE NOT NULL,
    status VARCHAR NOT NULL,            -- COMPLETED / FAILED
    reason VARCHAR,                     -- why it failed (one line, no personal data)
    seconds DOUBLE,
    people_shared BIGINT,
    exceptions_shared BIGINT
);

-- The people each authority shares for matching: its LA children (source SOCIAL_CARE, local_id
-- = its child id) and its EDUCATION records (local_id = 'EDUCATION:' || record id), with the
-- facts the regional checks need and nothing else.
CREATE TABLE IF NOT EXISTS region_people (
    la_code VARCHAR NOT NULL,
    local_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,            -- SOCIAL_CARE / EDUCATION
    person_id VARCHAR,                  -- the authority's LA child id, when it knows the child
    nhs_number VARCHAR,
    upn VARCHAR,
    forename VARCHAR,
    surname VARCHAR,
    dob DATE,
    sex VARCHAR,
    postcode VARCHAR,
    cin_open BOOLEAN NOT NULL,          -- a CiN plan open at the as-at date (social care rows)
    cin_since DATE,                     -- start of the earliest open CiN plan
    cin_known BOOLEAN NOT NULL,         -- the authority holds a CiN plan or an open CIN flag for this person
    possible_sessions BIGINT,           -- this academic year to the as-at date, through the UPN(s)
    missed_sessions BIGINT,
    school_urns VARCHAR
);

-- Cross-border links: a home authority's child and another authority's shared person.
CREATE TABLE IF NOT EXISTS region_links (
    home_la VARCHAR NOT NULL,
    home_person_id VARCHAR NOT NULL,
    other_la VARCHAR NOT NULL,
    other_local_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,            -- NHS_NUMBER / UPN / LINKED_IDENTIFIER / PROBABILISTIC ...
    match_probability DOUBLE
);

-- Possible matches below the match threshold, for officers of both authorities.
CREATE TABLE IF NOT EXISTS region_possible_matches (
    home_la VARCHAR NOT NULL,
    home_person_id VARCHAR NOT NULL,
    other_la VARCHAR NOT NULL,
    other_local_id VARCHAR NOT NULL,
    match_probability DOUBLE,
    evidence VARCHAR
);

-- Exceptions per check and run, for every authority (counts only: no personal data), kept
-- across runs for the trends of the regional report.
CREATE TABLE IF NOT EXISTS region_check_counts (
    la_code VARCHAR NOT NULL,
    as_at DATE NOT NULL,
    check_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    exception_count BIGINT
);

-- The exception lists of authorities whose sharing basis is "exceptions".
CREATE TABLE IF NOT EXISTS region_authority_exceptions (
    la_code VARCHAR NOT NULL,
    as_at DATE NOT NULL,
    exception_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR,
    person_id VARCHAR,
    agency VARCHAR,
    entity_type VARCHAR,
    entity_id VARCHAR,
    detail VARCHAR,
    locator VARCHAR,
    first_seen VARCHAR,
    status VARCHAR,
    review_status VARCHAR,
    review_note VARCHAR
);
