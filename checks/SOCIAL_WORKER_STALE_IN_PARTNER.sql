-- SOCIAL_WORKER_STALE_IN_PARTNER: a partner agency's open SOCIAL_WORKER flag names a
-- professional who is not the child's allocated social worker at D: the CW allocation of that
-- professional for this child ended more than grace_working_days working days ago, or never
-- existed. One row per partner record (its stale flags together).
WITH cin_at_as_at AS (
    SELECT DISTINCT person_id FROM cin_children($as_at)
),

partner_social_worker_flags AS (
    SELECT
        flag.person_id,
        CAST(flag.agency AS VARCHAR) AS agency,
        flag.agency_record_id,
        trim(flag.flag_value) AS professional_id,
        flag.start_date
    FROM open_agency_flags($as_at) AS flag
    JOIN cin_at_as_at AS cin ON cin.person_id = flag.person_id
    WHERE flag.flag_type = 'SOCIAL_WORKER'
      AND flag.agency <> 'SOCIAL_CARE'
      AND nullif(trim(flag.flag_value), '') IS NOT NULL
),

allocation_history AS (
    -- Per child and worker: allocated now, and the last end of an allocation that has ended.
    SELECT
        invo_person_id AS person_id,
        invo_professional_id AS professional_id,
        bool_or(invo_involvement_end_date IS NULL OR invo_involvement_end_date > $as_at) AS allocated_now,
        max(invo_involvement_end_date) FILTER (WHERE invo_involvement_end_date <= $as_at) AS last_ended_on
    FROM ssd_involvements
    WHERE invo_professional_role_id = 'CW' AND invo_involvement_start_date <= $as_at
    GROUP BY invo_person_id, invo_professional_id
),

current_workers AS (
    -- by name and team: a partner never sees a social care worker id
    SELECT person_id, worker_name || coalesce(' (' || worker_team || ')', '') AS professional_ids
    FROM allocated_worker_named($as_at)
),

stale_flags AS (
    SELECT
        flag.*,
        history.last_ended_on,
        CASE WHEN history.person_id IS NULL THEN
            'names ' || professional_label(flag.professional_id) || ', who has never been allocated as this child''s social worker'
        ELSE
            'names ' || professional_label(flag.professional_id) || ', whose allocation as this child''s social worker ended on '
            || strftime(history.last_ended_on, '%Y-%m-%d') || ' (' || working_days_between(history.last_ended_on, $as_at)
            || ' working days before ' || strftime($as_at, '%Y-%m-%d') || ')'
        END AS problem
    FROM partner_social_worker_flags AS flag
    LEFT JOIN allocation_history AS history
      ON history.person_id = flag.person_id AND history.professional_id = flag.professional_id
    WHERE history.person_id IS NULL
       OR (NOT history.allocated_now AND CAST($as_at AS DATE) > add_working_days(history.last_ended_on, $grace_working_days))
),

stale_records AS (
    SELECT
        person_id,
        agency,
        agency_record_id,
        string_agg(problem, '; ' ORDER BY professional_id) AS problems,
        string_agg(coalesce(strftime(start_date, '%Y-%m-%d'), 'no start date'), ', ' ORDER BY professional_id) AS flag_starts
    FROM stale_flags
    GROUP BY person_id, agency, agency_record_id
)

SELECT
    stale.person_id,
    stale.agency,
    'agency_record' AS entity_type,
    stale.agency_record_id AS entity_id,
    'MEDIUM' AS severity,
    'The open SOCIAL_WORKER flag on ' || stale.agency || ' record ' || stale.agency_record_id || ' ' || stale.problems
        || '; the allocated social worker at ' || strftime($as_at, '%Y-%m-%d') || ' is '
        || coalesce(current_workers.professional_ids, 'none recorded') || ': update the flag.' AS detail,
    'agency_flags.agency=' || stale.agency || '; agency_record_id=' || stale.agency_record_id
        || '; flag_type=SOCIAL_WORKER (start ' || stale.flag_starts || ')' AS locator
FROM stale_records AS stale
LEFT JOIN current_workers ON current_workers.person_id = stale.person_id
