-- IDENTITY_UNMATCHED: a CiN child expected in a partner's records (GP always; EDUCATION when of
-- compulsory school age) with no record linked there. Links come only from person_links; an
-- agency that delivered no records at all is not expected (its absence is a delivery problem).
WITH cin_children_at_as_at AS (
    SELECT cin.person_id, any_value(person.pers_dob) AS dob
    FROM cin_children($as_at) AS cin
    LEFT JOIN ssd_person AS person ON person.pers_person_id = cin.person_id
    GROUP BY cin.person_id
),

delivering_agencies AS (
    SELECT DISTINCT CAST(agency AS VARCHAR) AS agency FROM agency_records
),

expected_records AS (
    SELECT person_id, 'GP' AS agency FROM cin_children_at_as_at
    WHERE NOT person_unborn(person_id)  -- a pre-birth case has no GP record yet
    UNION ALL
    SELECT person_id, 'EDUCATION' FROM cin_children_at_as_at
    WHERE dob IS NOT NULL AND is_compulsory_school_age(dob, $as_at)
),

linked_records AS (
    SELECT DISTINCT person_id, agency FROM person_links
),

partner_records AS (
    -- one row per partner record (a duplicated key would count a candidate twice)
    SELECT CAST(agency AS VARCHAR) AS agency, agency_record_id, forename, surname, dob
    FROM agency_records
    QUALIFY row_number() OVER (
        PARTITION BY agency, agency_record_id ORDER BY dob NULLS LAST, surname NULLS LAST, forename NULLS LAST
    ) = 1
),

possible_matches AS (
    -- the partner's own candidate records, described from its own data only (its record id, name
    -- and date of birth), so it can find the record without seeing another agency's
    SELECT
        candidate.person_id,
        candidate.agency,
        count(*) AS candidate_count,
        string_agg(
            candidate.agency_record_id
                || coalesce(' (' || nullif(trim(concat_ws(' ', record.forename, record.surname)), '')
                            || coalesce(', born ' || strftime(record.dob, '%Y-%m-%d'), '') || ')',
                            coalesce(' (born ' || strftime(record.dob, '%Y-%m-%d') || ')', '')),
            '; ' ORDER BY candidate.match_probability DESC, candidate.agency_record_id
        ) AS candidate_records
    FROM link_candidates AS candidate
    LEFT JOIN partner_records AS record
      ON record.agency = candidate.agency AND record.agency_record_id = candidate.agency_record_id
    GROUP BY candidate.person_id, candidate.agency
),

known_identifiers AS (
    SELECT
        person_id,
        bool_or(identifier_type = 'NHS_NUMBER') AS has_nhs_number,
        bool_or(identifier_type = 'UPN') AS has_upn
    FROM person_identifiers
    GROUP BY person_id
)

SELECT
    expected.person_id,
    expected.agency,
    'child_agency' AS entity_type,
    expected.agency AS entity_id,
    'MEDIUM' AS severity,
    CASE expected.agency WHEN 'GP' THEN 'No GP record' ELSE 'No education record' END
        || ' is linked to this Child in Need'
        || CASE WHEN expected.agency = 'EDUCATION' THEN ' of compulsory school age' ELSE '' END
        || ' as at ' || strftime($as_at, '%Y-%m-%d') || '. '
        || CASE
            WHEN candidates.candidate_count > 0 THEN
                candidates.candidate_count || ' possible match(es) in your records await a decision: '
                || candidates.candidate_records || '. Confirm which (if any) is this child, and correct its NHS number, UPN, name or date of birth.'
            WHEN expected.agency = 'GP' AND NOT coalesce(identifiers.has_nhs_number, false) THEN
                'Social care holds no valid NHS number for the child: find the child''s GP record and record the NHS number on both.'
            WHEN expected.agency = 'EDUCATION' AND NOT coalesce(identifiers.has_upn, false) THEN
                'Social care holds no valid UPN for the child: find the child''s school record and record the UPN on both.'
            ELSE
                'Find the child''s record and check its NHS number, UPN, name and date of birth agree with social care.'
        END AS detail,
    'ssd_person.pers_person_id=' || expected.person_id || '; person_links.agency=' || expected.agency AS locator
FROM expected_records AS expected
JOIN delivering_agencies USING (agency)
LEFT JOIN linked_records AS linked USING (person_id, agency)
LEFT JOIN possible_matches AS candidates USING (person_id, agency)
LEFT JOIN known_identifiers AS identifiers USING (person_id)
WHERE linked.person_id IS NULL
