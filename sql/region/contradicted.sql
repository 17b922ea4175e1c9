-- Cross-border linkage (caseflags/region/linkage.py), in the private work store after link_people:
-- a probabilistic match is not a link when both sides hold an NHS number, or both a UPN, and they
-- differ. Two children of the same name and birthday in neighbouring authorities are common
-- enough in a region; such pairs go to officers instead.
CREATE OR REPLACE TEMP TABLE contradicted AS
SELECT link.agency_record_id, link.person_id, link.match_probability
FROM person_links AS link
JOIN ssd_person AS child ON child.pers_person_id = link.person_id
JOIN agency_records AS record ON record.agency_record_id = link.agency_record_id
WHERE link.method = 'PROBABILISTIC'
  AND ((nullif(regexp_replace(child.pers_single_unique_id, '[^0-9]', '', 'g'), '') <>
        nullif(regexp_replace(record.nhs_number, '[^0-9]', '', 'g'), ''))
    OR (nullif(upper(trim(child.pers_upn)), '') <> nullif(upper(trim(record.upn)), '')));
