-- Person linkage, part 2: the model's scores (linkage_scores, pairs at or above the review
-- threshold) settle the records identifiers could not, then links, possible matches,
-- identifiers and conflicts are derived. Parameters: $match_threshold, $review_threshold.

-- The model's pairs an officer has not rejected, with what stands in the way of accepting one:
-- another child above the match threshold for the record, or a record of that agency already
-- linked to the child by identifier or officer (twins look alike; officers decide those).
-- Several unsettled records of one agency above the threshold for one child: an agency's index
-- holds duplicates of one person (FEBRL's corrupted copies, a second registration), but also
-- the records of twins (same birthday, surname and postcode). Each is linked unless its sex
-- differs from the child's (`agrees_on_identity`; a missing sex is no evidence); the others wait
-- for officers. Never accepted, whatever the score: a record carrying a valid NHS number or UPN
-- other than the one social care holds for the child (`identifier_disagrees`): officers decide.
CREATE OR REPLACE TEMP TABLE linkage_scored_pairs AS
WITH unrejected AS (
    SELECT scores.agency, scores.agency_record_id, scores.person_id, scores.match_probability, scores.evidence,
           scores.agrees_on_identity
    FROM linkage_scores AS scores
    ANTI JOIN (SELECT * FROM linkage_latest_decisions WHERE decision = 'REJECTED') AS rejected
        USING (agency, agency_record_id, person_id)
    WHERE scores.match_probability >= $review_threshold
),
-- Pairs whose record carries a valid NHS number (UPN) while social care holds others, not it, for the child.
record_identifiers AS (
    SELECT unrejected.agency, unrejected.agency_record_id, unrejected.person_id, record.nhs_number, record.upn
    FROM unrejected
    JOIN linkage_records AS record USING (agency, agency_record_id)
    WHERE record.nhs_number IS NOT NULL OR record.upn IS NOT NULL
),
disagreeing AS (
    SELECT DISTINCT agency, agency_record_id, person_id
    FROM (
        SELECT pair.agency, pair.agency_record_id, pair.person_id
        FROM record_identifiers AS pair
        JOIN linkage_child_identifier_claims AS held
          ON held.person_id = pair.person_id AND held.identifier_type = 'NHS_NUMBER'
        WHERE pair.nhs_number IS NOT NULL
        GROUP BY pair.agency, pair.agency_record_id, pair.person_id, pair.nhs_number
        HAVING NOT bool_or(held.identifier_value = pair.nhs_number)
        UNION ALL
        SELECT pair.agency, pair.agency_record_id, pair.person_id
        FROM record_identifiers AS pair
        JOIN linkage_child_identifier_claims AS held
          ON held.person_id = pair.person_id AND held.identifier_type = 'UPN'
        WHERE pair.upn IS NOT NULL
        GROUP BY pair.agency, pair.agency_record_id, pair.person_id, pair.upn
        HAVING NOT bool_or(held.identifier_value = pair.upn)
    )
),
already_linked_in_agency AS (
    SELECT DISTINCT agency, person_id FROM linkage_confirmed WHERE children_for_record = 1
    UNION
    SELECT DISTINCT agency, person_id FROM linkage_deterministic WHERE children_for_record = 1
)
SELECT
    unrejected.*,
    disagreeing.person_id IS NOT NULL AS identifier_disagrees,
    count(*) FILTER (WHERE unrejected.match_probability >= $match_threshold)
        OVER (PARTITION BY unrejected.agency, unrejected.agency_record_id) AS children_above_match,
    count(*) FILTER (WHERE unrejected.match_probability >= $match_threshold)
        OVER (PARTITION BY unrejected.agency, unrejected.person_id) AS agency_records_above_match,
    linked.person_id IS NOT NULL AS child_linked_in_agency
FROM unrejected
LEFT JOIN already_linked_in_agency AS linked USING (agency, person_id)
LEFT JOIN disagreeing USING (agency, agency_record_id, person_id);

CREATE OR REPLACE TEMP TABLE linkage_accepted_pairs AS
SELECT agency, agency_record_id, person_id, match_probability
FROM linkage_scored_pairs
WHERE match_probability >= $match_threshold
  AND children_above_match = 1
  AND (agency_records_above_match = 1 OR agrees_on_identity)
  AND NOT identifier_disagrees
  AND NOT child_linked_in_agency;

-- Every accepted link.
CREATE OR REPLACE TEMP TABLE linkage_links AS
SELECT 'SOCIAL_CARE' AS agency, person_id AS agency_record_id, person_id, 'LA_ID' AS method,
       1.0::DOUBLE AS match_probability
FROM linkage_children
UNION ALL
SELECT agency, agency_record_id, person_id, 'OFFICER_CONFIRMED', 1.0
FROM linkage_confirmed
WHERE children_for_record = 1
UNION ALL
SELECT agency, agency_record_id, person_id, method, 1.0
FROM linkage_deterministic
WHERE children_for_record = 1
UNION ALL
SELECT agency, agency_record_id, person_id, 'PROBABILISTIC', match_probability
FROM linkage_accepted_pairs;

-- Possible matches for officers: scored pairs of records the model did not link.
CREATE OR REPLACE TEMP TABLE linkage_possible_matches AS
SELECT agency, agency_record_id, person_id, match_probability, evidence
FROM linkage_scored_pairs
ANTI JOIN linkage_accepted_pairs USING (agency, agency_record_id);

-- Who claims each valid identifier: social care for its own children, and every linked record.
CREATE OR REPLACE TEMP TABLE linkage_identifier_claims AS
SELECT 'SOCIAL_CARE' AS agency, person_id AS agency_record_id, person_id, identifier_type, identifier_value
FROM linkage_child_identifier_claims
UNION ALL
SELECT links.agency, links.agency_record_id, links.person_id, 'NHS_NUMBER', record.nhs_number
FROM linkage_links AS links
JOIN linkage_records AS record USING (agency, agency_record_id)
WHERE record.nhs_number IS NOT NULL
UNION ALL
SELECT links.agency, links.agency_record_id, links.person_id, 'UPN', record.upn
FROM linkage_links AS links
JOIN linkage_records AS record USING (agency, agency_record_id)
WHERE record.upn IS NOT NULL;

CREATE OR REPLACE TEMP TABLE linkage_identifier_owners AS
SELECT identifier_type, identifier_value, count(DISTINCT person_id) AS children
FROM linkage_identifier_claims
GROUP BY identifier_type, identifier_value;

-- Conflicts: one row per (record, child) pair, with every reason that applies.
CREATE OR REPLACE TEMP TABLE linkage_conflicts AS
WITH record_matches_two_children AS (
    SELECT agency, agency_record_id, person_id, 'RECORD_MATCHES_TWO_CHILDREN' AS conflict_type
    FROM linkage_deterministic
    WHERE children_for_record > 1
    UNION ALL
    SELECT agency, agency_record_id, person_id, 'RECORD_MATCHES_TWO_CHILDREN'
    FROM linkage_confirmed
    WHERE children_for_record > 1
),
dob_mismatch AS (
    SELECT links.agency, links.agency_record_id, links.person_id, 'DOB_MISMATCH'
    FROM linkage_links AS links
    JOIN linkage_records AS record USING (agency, agency_record_id)
    JOIN linkage_children AS child USING (person_id)
    WHERE links.method <> 'LA_ID' AND record.birth_date <> child.birth_date
),
identifier_shared AS (
    SELECT DISTINCT claims.agency, claims.agency_record_id, claims.person_id, 'IDENTIFIER_SHARED'
    FROM linkage_identifier_claims AS claims
    JOIN linkage_identifier_owners AS owners USING (identifier_type, identifier_value)
    WHERE owners.children > 1
),
all_conflicts AS (
    SELECT * FROM record_matches_two_children
    UNION ALL SELECT * FROM dob_mismatch
    UNION ALL SELECT * FROM identifier_shared
)
SELECT agency, agency_record_id, person_id,
       string_agg(DISTINCT conflict_type, ',' ORDER BY conflict_type) AS conflict_types
FROM all_conflicts
GROUP BY agency, agency_record_id, person_id;

-- Identifiers that lead to exactly one child: the only way identifier-keyed tables reach a child.
CREATE OR REPLACE TEMP TABLE linkage_person_identifiers AS
SELECT DISTINCT claims.person_id, claims.identifier_type, claims.identifier_value
FROM linkage_identifier_claims AS claims
JOIN linkage_identifier_owners AS owners USING (identifier_type, identifier_value)
WHERE owners.children = 1;
