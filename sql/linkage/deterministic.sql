-- Person linkage, part 1: the inputs and the links that rest on a shared identifier or an
-- officer's decision. Needs sql/linkage/macros.sql. Every table here is TEMP (this connection).

-- Each forename with the formal names it may stand for (itself included), so "Tom" and
-- "Thomas" share one. Needs linkage_nicknames (sql/linkage/nicknames.sql).
CREATE OR REPLACE TEMP MACRO link_forename_forms(forename) AS CASE WHEN forename IS NOT NULL THEN
    list_distinct(list_concat([forename],
        coalesce((SELECT list(formal) FROM linkage_nicknames WHERE nickname = forename), [])))
END;

-- One formal name a forename stands for (the first alphabetically; itself when it is no
-- nickname), so "Tom" and "Thomas" block together. Needs linkage_nicknames.
CREATE OR REPLACE TEMP MACRO link_forename_formal(forename) AS CASE WHEN forename IS NOT NULL THEN
    coalesce((SELECT min(formal) FROM linkage_nicknames WHERE nickname = forename), forename)
END;

-- Children known to social care, one row per LA child id, with the fields the model compares.
CREATE OR REPLACE TEMP TABLE linkage_children AS
WITH person AS (
    SELECT *
    FROM ssd_person
    QUALIFY row_number() OVER (PARTITION BY pers_person_id ORDER BY pers_dob, pers_surname, pers_forename) = 1
),
current_postcode AS (
    -- The open address (else the latest one): children move, so the newest is the best guess.
    SELECT addr_person_id AS person_id, link_postcode(addr_address_postcode) AS postcode
    FROM ssd_address
    WHERE link_postcode(addr_address_postcode) IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY addr_person_id
        ORDER BY addr_address_end_date IS NULL DESC, addr_address_start_date DESC NULLS LAST,
                 addr_address_end_date DESC NULLS LAST, postcode
    ) = 1
)
SELECT
    person.pers_person_id AS person_id,
    person.pers_dob AS birth_date,
    link_name(person.pers_forename) AS forename,
    link_forename_forms(link_name(person.pers_forename)) AS forename_forms,
    link_forename_formal(link_name(person.pers_forename)) AS forename_formal,
    link_name(person.pers_surname) AS surname,
    link_dob(person.pers_dob) AS dob,
    link_dob_swapped(person.pers_dob) AS dob_swapped,
    link_sex(person.pers_sex) AS sex,
    current_postcode.postcode,
    link_postcode_sector(current_postcode.postcode) AS postcode_sector,
    link_postcode_district(current_postcode.postcode) AS postcode_district
FROM person
LEFT JOIN current_postcode ON current_postcode.person_id = person.pers_person_id;

-- Every partner record, with identifiers kept only when valid (an invalid one is never a key).
CREATE OR REPLACE TEMP TABLE linkage_records AS
WITH record AS (
    SELECT *, link_nhs_number(nhs_number) AS nhs_number_normalised, link_upn(upn) AS upn_normalised,
           link_postcode(postcode) AS postcode_normalised
    FROM agency_records
    QUALIFY row_number() OVER (
        PARTITION BY agency, agency_record_id ORDER BY dob, surname, forename, nhs_number, upn
    ) = 1
)
SELECT
    CAST(record.agency AS VARCHAR) AS agency,
    record.agency_record_id,
    CASE WHEN link_nhs_number_is_valid(record.nhs_number_normalised) THEN record.nhs_number_normalised END AS nhs_number,
    CASE WHEN link_upn_is_valid(record.upn_normalised) THEN record.upn_normalised END AS upn,
    nullif(trim(record.la_person_id), '') AS la_person_id,
    record.dob AS birth_date,
    link_name(record.forename) AS forename,
    link_forename_forms(link_name(record.forename)) AS forename_forms,
    link_forename_formal(link_name(record.forename)) AS forename_formal,
    link_name(record.surname) AS surname,
    link_dob(record.dob) AS dob,
    link_dob_swapped(record.dob) AS dob_swapped,
    link_sex(record.sex) AS sex,
    record.postcode_normalised AS postcode,
    link_postcode_sector(record.postcode_normalised) AS postcode_sector,
    link_postcode_district(record.postcode_normalised) AS postcode_district
FROM record;

-- Postcodes delivered in a shape that is not a UK one: still compared (whole, and by their
-- leading characters), and counted per agency as data quality, never turned into a blank.
CREATE OR REPLACE TEMP TABLE linkage_postcode_quality AS
SELECT 'SOCIAL_CARE' AS agency, count(*) AS not_uk_shaped
FROM linkage_children
WHERE postcode IS NOT NULL AND NOT link_postcode_is_uk(postcode)
UNION ALL
SELECT agency, count(*)
FROM linkage_records
WHERE postcode IS NOT NULL AND NOT link_postcode_is_uk(postcode)
GROUP BY agency;

-- Valid identifiers social care holds for its children: on the person row, or listed among
-- the child's linked identifiers (former UPNs, a second NHS number after adoption...).
CREATE OR REPLACE TEMP TABLE linkage_child_identifier_claims AS
WITH claimed AS (
    SELECT pers_person_id AS person_id, 'NHS_NUMBER' AS identifier_type,
           link_nhs_number(pers_single_unique_id) AS identifier_value, 'SSD_PERSON' AS source
    FROM ssd_person
    UNION ALL
    SELECT pers_person_id, 'UPN', link_upn(pers_upn), 'SSD_PERSON'
    FROM ssd_person
    UNION ALL
    SELECT
        link_person_id,
        CASE WHEN lower(trim(link_identifier_type)) IN ('nhs number', 'nhs_number') THEN 'NHS_NUMBER'
             ELSE 'UPN' END,
        CASE WHEN lower(trim(link_identifier_type)) IN ('nhs number', 'nhs_number')
             THEN link_nhs_number(link_identifier_value) ELSE link_upn(link_identifier_value) END,
        'LINKED_IDENTIFIER'
    FROM ssd_linked_identifiers
    WHERE lower(trim(link_identifier_type)) IN (
        'nhs number', 'nhs_number', 'unique pupil number', 'upn', 'former upn', 'former unique pupil number'
    )
)
SELECT DISTINCT claimed.person_id, claimed.identifier_type, claimed.identifier_value, claimed.source
FROM claimed
JOIN linkage_children ON linkage_children.person_id = claimed.person_id
WHERE CASE claimed.identifier_type
          WHEN 'NHS_NUMBER' THEN link_nhs_number_is_valid(claimed.identifier_value)
          ELSE link_upn_is_valid(claimed.identifier_value) END;

-- An identifier two children claim identifies neither: it links nothing (and is a conflict).
CREATE OR REPLACE TEMP TABLE linkage_child_identifiers AS
SELECT person_id, identifier_type, identifier_value, source
FROM linkage_child_identifier_claims
QUALIFY count(DISTINCT person_id) OVER (PARTITION BY identifier_type, identifier_value) = 1;

-- Officers' latest word on each (record, child) pair, for records and children that still exist.
CREATE OR REPLACE TEMP TABLE linkage_latest_decisions AS
SELECT decision.agency, decision.agency_record_id, decision.person_id, decision.decision
FROM link_decisions AS decision
JOIN linkage_records USING (agency, agency_record_id)
JOIN linkage_children USING (person_id)
QUALIFY row_number() OVER (
    PARTITION BY decision.agency, decision.agency_record_id, decision.person_id
    ORDER BY decision.decided_at DESC, decision.decision_seq DESC
) = 1;

-- Pairs sharing an identifier or naming the LA child id; an officer's rejection removes a pair.
CREATE OR REPLACE TEMP TABLE linkage_identifier_matches AS
WITH matched AS (
    SELECT record.agency, record.agency_record_id, child.person_id,
           CASE WHEN child.source = 'SSD_PERSON' THEN 'NHS_NUMBER' ELSE 'LINKED_IDENTIFIER' END AS method
    FROM linkage_records AS record
    JOIN linkage_child_identifiers AS child
      ON child.identifier_type = 'NHS_NUMBER' AND child.identifier_value = record.nhs_number
    UNION ALL
    SELECT record.agency, record.agency_record_id, child.person_id,
           CASE WHEN child.source = 'SSD_PERSON' THEN 'UPN' ELSE 'LINKED_IDENTIFIER' END
    FROM linkage_records AS record
    JOIN linkage_child_identifiers AS child
      ON child.identifier_type = 'UPN' AND child.identifier_value = record.upn
    UNION ALL
    SELECT record.agency, record.agency_record_id, child.person_id, 'LA_PERSON_ID'
    FROM linkage_records AS record
    JOIN linkage_children AS child ON child.person_id = record.la_person_id
)
SELECT matched.*
FROM matched
ANTI JOIN (SELECT * FROM linkage_latest_decisions WHERE decision = 'REJECTED') AS rejected
    USING (agency, agency_record_id, person_id);

-- Records an officer confirmed: decided, whatever identifiers or the model say.
CREATE OR REPLACE TEMP TABLE linkage_confirmed AS
SELECT agency, agency_record_id, person_id,
       count(*) OVER (PARTITION BY agency, agency_record_id) AS children_for_record
FROM linkage_latest_decisions
WHERE decision = 'CONFIRMED';

-- One child per record by identifier: a link, by the strongest method that found it.
-- More than one child: a conflict, and no link until an officer settles it.
CREATE OR REPLACE TEMP TABLE linkage_deterministic AS
WITH per_pair AS (
    SELECT agency, agency_record_id, person_id,
           min_by(method, CASE method
               WHEN 'NHS_NUMBER' THEN 1 WHEN 'UPN' THEN 2 WHEN 'LINKED_IDENTIFIER' THEN 3 ELSE 4 END
           ) AS method,
           string_agg(DISTINCT method, ',' ORDER BY method) AS methods
    FROM linkage_identifier_matches
    GROUP BY agency, agency_record_id, person_id
)
SELECT per_pair.*, count(*) OVER (PARTITION BY agency, agency_record_id) AS children_for_record
FROM per_pair
ANTI JOIN linkage_confirmed USING (agency, agency_record_id);

-- Exact forename, surname and date of birth, unique on both sides: the combination belongs to
-- one LA child and to one record of the agency (among all its records), the child has no record
-- of that agency settled already, and nothing else disagrees (sex, postcode district, a valid
-- NHS number or UPN social care holds otherwise). A link before the model (method NAME_DOB).
CREATE OR REPLACE TEMP TABLE linkage_name_dob AS
WITH child_keys AS (
    SELECT person_id, forename, surname, dob, sex, postcode_district
    FROM linkage_children
    WHERE forename IS NOT NULL AND surname IS NOT NULL AND dob IS NOT NULL
    QUALIFY count(*) OVER (PARTITION BY forename, surname, dob) = 1
),
record_keys AS (
    SELECT agency, agency_record_id, forename, surname, dob, sex, postcode_district, nhs_number, upn
    FROM linkage_records
    WHERE forename IS NOT NULL AND surname IS NOT NULL AND dob IS NOT NULL
    QUALIFY count(*) OVER (PARTITION BY agency, forename, surname, dob) = 1
),
settled_in_agency AS (
    SELECT DISTINCT agency, person_id FROM linkage_confirmed WHERE children_for_record = 1
    UNION
    SELECT DISTINCT agency, person_id FROM linkage_deterministic WHERE children_for_record = 1
),
held AS (
    SELECT person_id, identifier_type, list(identifier_value) AS values
    FROM linkage_child_identifier_claims
    GROUP BY person_id, identifier_type
)
SELECT record.agency, record.agency_record_id, child.person_id
FROM record_keys AS record
JOIN child_keys AS child USING (forename, surname, dob)
LEFT JOIN held AS held_nhs ON held_nhs.person_id = child.person_id AND held_nhs.identifier_type = 'NHS_NUMBER'
LEFT JOIN held AS held_upn ON held_upn.person_id = child.person_id AND held_upn.identifier_type = 'UPN'
WHERE (record.sex IS NULL OR child.sex IS NULL OR record.sex = child.sex)
  AND (record.postcode_district IS NULL OR child.postcode_district IS NULL
       OR record.postcode_district = child.postcode_district)
  AND NOT coalesce(record.nhs_number IS NOT NULL AND NOT list_contains(held_nhs.values, record.nhs_number), false)
  AND NOT coalesce(record.upn IS NOT NULL AND NOT list_contains(held_upn.values, record.upn), false)
  AND NOT EXISTS (SELECT 1 FROM settled_in_agency AS s WHERE s.agency = record.agency AND s.person_id = child.person_id)
  AND NOT EXISTS (SELECT 1 FROM linkage_confirmed AS c
                  WHERE c.agency = record.agency AND c.agency_record_id = record.agency_record_id)
  AND NOT EXISTS (SELECT 1 FROM linkage_deterministic AS d
                  WHERE d.agency = record.agency AND d.agency_record_id = record.agency_record_id)
  AND NOT EXISTS (SELECT 1 FROM linkage_latest_decisions AS r
                  WHERE r.decision = 'REJECTED' AND r.agency = record.agency
                    AND r.agency_record_id = record.agency_record_id AND r.person_id = child.person_id);

-- What is left for the model: records with no officer decision, no identifier match, no
-- conflict and no unique exact name and date of birth.
CREATE OR REPLACE TEMP TABLE linkage_unresolved_records AS
SELECT *
FROM linkage_records
ANTI JOIN linkage_confirmed USING (agency, agency_record_id)
ANTI JOIN linkage_deterministic USING (agency, agency_record_id)
ANTI JOIN linkage_name_dob USING (agency, agency_record_id);
