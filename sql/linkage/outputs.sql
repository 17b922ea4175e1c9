-- Person linkage, part 3 (after sql/linkage/resolve.sql and its assignment rounds,
-- sql/linkage/assign_round.sql): links, possible matches, match weights, identifiers, conflicts.

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
SELECT agency, agency_record_id, person_id, 'NAME_DOB', 1.0
FROM linkage_name_dob
UNION ALL
SELECT agency, agency_record_id, person_id, 'PROBABILISTIC', match_probability
FROM linkage_accepted_pairs;

-- Possible matches for officers: scored pairs of records the model did not link.
-- A household-shaped pair (same surname and postcode, another forename) not linked is offered as
-- a possible sibling with its household probability.
CREATE OR REPLACE TEMP TABLE linkage_possible_matches AS
SELECT agency, agency_record_id, person_id, offered_probability AS match_probability,
       CASE WHEN household_shaped THEN 'possible sibling (probably a different child); ' ELSE '' END || evidence AS evidence,
       CASE WHEN household_shaped THEN 'POSSIBLE_SIBLING' ELSE 'POSSIBLE_MATCH' END AS kind,
       match_probability AS raw_probability, match_weight
FROM linkage_scored_pairs
ANTI JOIN linkage_accepted_pairs USING (agency, agency_record_id)
-- Never-match pairs (another valid identifier) are not offered either, except across borders,
-- where sql/region/contradicted.sql reports them to officers ($offer_contradicted).
WHERE NOT identifier_disagrees OR $offer_contradicted;

-- Each field's match weight for every probabilistic link and possible match (splink's
-- waterfall: the prior, then one row per compared field; they sum to the pair's match weight).
CREATE OR REPLACE TEMP TABLE linkage_match_weights AS
WITH shown AS (
    SELECT agency, agency_record_id, person_id FROM linkage_accepted_pairs
    UNION
    SELECT agency, agency_record_id, person_id FROM linkage_possible_matches
),
pairs AS (
    SELECT scored.* FROM linkage_scored_pairs AS scored JOIN shown USING (agency, agency_record_id, person_id)
)
SELECT agency, agency_record_id, person_id, 0 AS position, 'prior' AS comparison,
       'chance the record is this child before comparing (its share of a true child, less the other children it resembles)' AS level,
       match_weight - (weight_forename + weight_surname + weight_dob + weight_sex + weight_postcode) AS match_weight
FROM pairs
UNION ALL
SELECT agency, agency_record_id, person_id, position, comparison,
       trim(split_part(evidence, '; ', position)), weight
FROM pairs,
     (VALUES (1, 'forename'), (2, 'surname'), (3, 'dob'), (4, 'sex'), (5, 'postcode')) AS fields(position, comparison),
     LATERAL (SELECT CASE comparison WHEN 'forename' THEN weight_forename WHEN 'surname' THEN weight_surname
                                     WHEN 'dob' THEN weight_dob WHEN 'sex' THEN weight_sex
                                     ELSE weight_postcode END AS weight);

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
