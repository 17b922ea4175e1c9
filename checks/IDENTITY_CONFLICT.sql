-- IDENTITY_CONFLICT: partner records whose identity disagrees with the LA child, from the
-- conflicts linkage found (link_conflicts): a linked record whose date of birth differs, a
-- record identifiers match to two children (left unlinked), or an NHS number / UPN two children
-- share. One row per (record, child) pair, owned by the record's agency; CiN children at D.
WITH cin_children_at_as_at AS (
    SELECT DISTINCT person_id FROM cin_children($as_at)
),

conflicts AS (
    SELECT
        conflict.agency,
        conflict.agency_record_id,
        conflict.person_id,
        contains(conflict.conflict_types, 'RECORD_MATCHES_TWO_CHILDREN') AS matches_two_children,
        contains(conflict.conflict_types, 'IDENTIFIER_SHARED') AS identifier_shared,
        contains(conflict.conflict_types, 'DOB_MISMATCH') AS dob_mismatch
    FROM link_conflicts AS conflict
    JOIN cin_children_at_as_at USING (person_id)
)

SELECT
    person_id,
    agency,
    'agency_record' AS entity_type,
    agency_record_id AS entity_id,
    CASE WHEN matches_two_children OR identifier_shared THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    concat_ws(' ',
        CASE WHEN matches_two_children THEN
            'This record''s identifiers (NHS number, UPN or LA child id) match more than one LA child, so it is linked to none: correct the identifiers, or an officer confirms the right child.'
        END,
        CASE WHEN identifier_shared THEN
            'An NHS number or UPN on this record is also held for another LA child: correct whichever record is wrong.'
        END,
        CASE WHEN dob_mismatch THEN
            'This record''s date of birth differs from the child''s social care record: confirm the correct date with the family and correct the record.'
        END
    ) AS detail,
    CASE WHEN agency = 'SOCIAL_CARE' AND agency_record_id = person_id
         THEN 'ssd_person.pers_person_id=' || person_id
         ELSE 'agency_records.agency=' || agency || ', agency_record_id=' || agency_record_id
              || '; ssd_person.pers_person_id=' || person_id
    END AS locator
FROM conflicts
