-- SOCIAL_WORKER_UNALLOCATED: a CiN child with no allocated social worker at D, unallocated
-- since a date (the end of the last CW allocation, or the CIN plan start when later or when
-- never allocated) more than grace_working_days working days before D.
WITH cin_at_as_at AS (
    SELECT person_id, min(plan_start_date) AS cin_since, string_agg(plan_id, ', ' ORDER BY plan_id) AS plan_ids
    FROM open_cin_plans($as_at)
    GROUP BY person_id
),

allocated_at_as_at AS (
    SELECT DISTINCT person_id FROM allocated_social_worker($as_at)
),

last_allocation AS (
    -- End dates are the first day without the worker (allocated while end > day).
    SELECT
        invo_person_id AS person_id,
        max(invo_involvement_end_date) AS last_ended_on,
        arg_max(invo_involvements_id, invo_involvement_end_date) AS last_involvement_id
    FROM ssd_involvements
    WHERE invo_professional_role_id = 'CW' AND invo_involvement_end_date <= $as_at
    GROUP BY invo_person_id
),

unallocated_children AS (
    SELECT
        cin.person_id,
        cin.cin_since,
        cin.plan_ids,
        previous.last_ended_on,
        previous.last_involvement_id,
        greatest(cin.cin_since, coalesce(previous.last_ended_on, cin.cin_since)) AS unallocated_since
    FROM cin_at_as_at AS cin
    LEFT JOIN allocated_at_as_at AS allocated ON allocated.person_id = cin.person_id
    LEFT JOIN last_allocation AS previous ON previous.person_id = cin.person_id
    WHERE allocated.person_id IS NULL
)

SELECT
    person_id,
    'SOCIAL_CARE' AS agency,
    'child' AS entity_type,
    person_id AS entity_id,
    'HIGH' AS severity,
    'No allocated social worker since ' || strftime(unallocated_since, '%Y-%m-%d')
        || CASE
            WHEN last_ended_on IS NULL THEN ' (Child in Need since then; never allocated)'
            WHEN last_ended_on >= cin_since THEN ' (previous allocation ended)'
            ELSE ' (Child in Need since then; previous allocation ended ' || strftime(last_ended_on, '%Y-%m-%d') || ')'
        END
        || ': ' || working_days_between(unallocated_since, $as_at) || ' working days to '
        || strftime($as_at, '%Y-%m-%d') || ', more than the ' || $grace_working_days
        || ' allowed: allocate a social worker.' AS detail,
    'ssd_person.pers_person_id=' || person_id || '; ssd_cin_plans.cinp_cin_plan_id=' || plan_ids
        || coalesce('; ssd_involvements.invo_involvements_id=' || last_involvement_id
            || ' (ended ' || strftime(last_ended_on, '%Y-%m-%d') || ')', '') AS locator,
    working_days_between(unallocated_since, $as_at) AS magnitude,
    $grace_working_days AS threshold,
    'working days' AS magnitude_unit
FROM unallocated_children
WHERE CAST($as_at AS DATE) > add_working_days(unallocated_since, $grace_working_days)
