-- GP_NOT_KNOWN: a CiN child with no GP registration at the as-at date, so no GP can be invited
-- to CiN meetings. Registrations reach the child through an NHS number in person_identifiers.
WITH cin_plans_at_as_at AS (
    SELECT
        person_id,
        min(plan_start_date) AS cin_since,
        string_agg(plan_id, ', ' ORDER BY plan_id) AS plan_ids
    FROM open_cin_plans($as_at)
    GROUP BY person_id
),

known_nhs_numbers AS (
    SELECT person_id, count(*) AS nhs_number_count
    FROM person_identifiers
    WHERE identifier_type = 'NHS_NUMBER'
    GROUP BY person_id
),

registered_at_as_at AS (
    SELECT DISTINCT person_id FROM gp_registrations_at($as_at)
),

last_ended_registration AS (
    SELECT patient.person_id, max(registration.registered_to) AS last_registered_to
    FROM gp_registrations AS registration
    JOIN person_identifiers AS patient
      ON patient.identifier_type = 'NHS_NUMBER' AND patient.identifier_value = registration.nhs_number
    WHERE registration.registered_to <= $as_at
    GROUP BY patient.person_id
)

SELECT
    cin.person_id,
    'SOCIAL_CARE' AS agency,
    'child' AS entity_type,
    cin.person_id AS entity_id,
    'MEDIUM' AS severity,
    CASE
        WHEN nhs.person_id IS NULL THEN
            'Child in Need since ' || strftime(cin.cin_since, '%Y-%m-%d')
            || ' has no valid NHS number on record, so no GP registration can be found at '
            || strftime($as_at, '%Y-%m-%d') || ': record the NHS number and the registered GP practice.'
        WHEN ended.last_registered_to IS NOT NULL THEN
            'Child in Need since ' || strftime(cin.cin_since, '%Y-%m-%d')
            || ' has had no GP registration since ' || strftime(ended.last_registered_to, '%Y-%m-%d')
            || ' (as at ' || strftime($as_at, '%Y-%m-%d') || '): confirm the current GP practice.'
        ELSE
            'Child in Need since ' || strftime(cin.cin_since, '%Y-%m-%d')
            || ' has no GP registration at ' || strftime($as_at, '%Y-%m-%d')
            || ' under any of ' || nhs.nhs_number_count || ' known NHS number(s): confirm the registered GP practice.'
    END AS detail,
    'ssd_person.pers_person_id=' || cin.person_id
        || '; ssd_cin_plans.cinp_cin_plan_id=' || cin.plan_ids AS locator
FROM cin_plans_at_as_at AS cin
LEFT JOIN registered_at_as_at AS registered ON registered.person_id = cin.person_id
LEFT JOIN known_nhs_numbers AS nhs ON nhs.person_id = cin.person_id
LEFT JOIN last_ended_registration AS ended ON ended.person_id = cin.person_id
WHERE registered.person_id IS NULL
  AND NOT person_died_by(cin.person_id, $as_at)  -- no GP is expected after a death
  AND NOT person_unborn(cin.person_id)  -- nor before a birth (a pre-birth case)
