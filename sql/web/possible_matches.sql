-- Possible matches side by side: the partner record and the LA child, with the values compared.
WITH candidate_children AS (
    SELECT DISTINCT person_id FROM link_candidates
),
child_postcodes AS (
    SELECT a.addr_person_id AS person_id,
           string_agg(DISTINCT a.addr_address_postcode, '; ' ORDER BY a.addr_address_postcode) AS postcodes
    FROM ssd_address AS a SEMI JOIN candidate_children AS c ON c.person_id = a.addr_person_id
    GROUP BY a.addr_person_id
),
child_nhs AS (
    SELECT i.person_id, string_agg(DISTINCT i.identifier_value, '; ' ORDER BY i.identifier_value) AS nhs_numbers
    FROM person_identifiers AS i SEMI JOIN candidate_children AS c ON c.person_id = i.person_id
    WHERE i.identifier_type = 'NHS_NUMBER'
    GROUP BY i.person_id
)
SELECT
    c.agency, c.agency_record_id, c.person_id, c.match_probability, c.evidence,
    coalesce(c.kind, 'POSSIBLE_MATCH') AS kind, c.raw_probability, c.match_weight,
    r.forename AS record_forename, r.surname AS record_surname, r.dob AS record_dob, r.sex AS record_sex,
    r.postcode AS record_postcode, r.nhs_number AS record_nhs_number, r.upn AS record_upn,
    p.pers_forename AS child_forename, p.pers_surname AS child_surname, p.pers_dob AS child_dob,
    p.pers_sex AS child_sex, p.pers_upn AS child_upn,
    child_postcodes.postcodes AS child_postcodes,
    child_nhs.nhs_numbers AS child_nhs_number
FROM link_candidates AS c
LEFT JOIN agency_records AS r ON CAST(r.agency AS VARCHAR) = c.agency AND r.agency_record_id = c.agency_record_id
LEFT JOIN ssd_person AS p ON p.pers_person_id = c.person_id
LEFT JOIN child_postcodes ON child_postcodes.person_id = c.person_id
LEFT JOIN child_nhs ON child_nhs.person_id = c.person_id
ORDER BY c.match_probability DESC, c.agency, c.agency_record_id, c.person_id
