-- INVOLVED_AGENCY_NOT_ON_PLAN: an agency involved with a CiN child (an open flag of any type on
-- its linked record, an open involvement, or invited to the last held CiN meeting or review)
-- owns no action on the child's open CIN plan. One row per open plan and agency, owned by
-- SOCIAL_CARE. An action's agency is its owner_agency, else its owner professional's agency;
-- any action on the plan counts, whatever its status ("owns no action").
WITH open_plans AS (
    SELECT plan_id, person_id, plan_start_date FROM open_cin_plans($as_at)
),

flagging_agencies AS (
    SELECT
        flag.person_id,
        CAST(flag.agency AS VARCHAR) AS agency,
        'open ' || array_to_string(list_sort(list_distinct(list(CAST(flag.flag_type AS VARCHAR)))), '/')
            || ' flag' AS reason
    FROM open_agency_flags($as_at) AS flag
    GROUP BY flag.person_id, flag.agency
),

-- ssd_involvements is social care's record: a professional with no agency is social care's own.
involved_professional_agencies AS (
    SELECT
        involvement.invo_person_id AS person_id,
        coalesce(CAST(professional.prof_agency AS VARCHAR), 'SOCIAL_CARE') AS agency,
        'open involvement (' || array_to_string(list_sort(list_distinct(list(involvement.invo_professional_role_id))), '/')
            || ')' AS reason
    FROM ssd_involvements AS involvement
    LEFT JOIN ssd_professionals AS professional
      ON professional.prof_professional_id = involvement.invo_professional_id
    WHERE involvement.invo_involvement_start_date <= $as_at
      AND (involvement.invo_involvement_end_date IS NULL OR involvement.invo_involvement_end_date > $as_at)
    GROUP BY ALL
),

last_held_cin_meetings AS (
    SELECT
        person_id,
        -- The latest held; the greatest meeting id on a same-day tie, so reruns agree.
        arg_max(meeting_id, strftime(meeting_held_on(status, held_date, scheduled_date), '%Y-%m-%d') || meeting_id)
            AS meeting_id,
        max(meeting_held_on(status, held_date, scheduled_date)) AS held_on
    FROM meetings
    WHERE meeting_type IN ('CIN_MEETING', 'CIN_REVIEW')
      AND meeting_held_on(status, held_date, scheduled_date) <= $as_at
    GROUP BY person_id
),

invited_agencies AS (
    SELECT DISTINCT
        meeting.person_id,
        CAST(invitation.agency AS VARCHAR) AS agency,
        'invited to the CiN meeting held ' || strftime(meeting.held_on, '%Y-%m-%d') AS reason
    FROM last_held_cin_meetings AS meeting
    JOIN meeting_invitations AS invitation ON invitation.meeting_id = meeting.meeting_id
    WHERE invitation.agency IS NOT NULL
),

involved_agencies AS (
    SELECT person_id, agency, array_to_string(list_sort(list(reason)), '; ') AS reasons
    FROM (
        SELECT person_id, agency, reason FROM flagging_agencies
        UNION ALL
        SELECT person_id, agency, reason FROM involved_professional_agencies
        UNION ALL
        SELECT person_id, agency, reason FROM invited_agencies
    ) AS involvement
    GROUP BY person_id, agency
),

action_owning_agencies AS (
    SELECT DISTINCT
        action.plan_id,
        coalesce(CAST(action.owner_agency AS VARCHAR), CAST(professional.prof_agency AS VARCHAR)) AS agency
    FROM plan_actions AS action
    LEFT JOIN ssd_professionals AS professional
      ON professional.prof_professional_id = action.owner_professional_id
),

plan_action_counts AS (
    SELECT plan_id, count(*) AS actions
    FROM plan_actions
    GROUP BY plan_id
)

SELECT
    plan.person_id,
    'SOCIAL_CARE' AS agency,
    'plan_agency' AS entity_type,
    plan.plan_id || ':' || involved.agency AS entity_id,
    'MEDIUM' AS severity,
    involved.agency || ' is involved with the child (' || involved.reasons || ') but owns none of the '
        || coalesce(counts.actions, 0) || ' action(s) on the CIN plan open since '
        || strftime(plan.plan_start_date, '%Y-%m-%d') || '.' AS detail,
    'ssd_cin_plans.cinp_cin_plan_id=' || plan.plan_id
        || '; cinp_cin_plan_start_date=' || strftime(plan.plan_start_date, '%Y-%m-%d')
        || '; agency ' || involved.agency AS locator
FROM open_plans AS plan
JOIN involved_agencies AS involved ON involved.person_id = plan.person_id
LEFT JOIN action_owning_agencies AS owning
  ON owning.plan_id = plan.plan_id AND owning.agency = involved.agency
LEFT JOIN plan_action_counts AS counts ON counts.plan_id = plan.plan_id
WHERE owning.plan_id IS NULL
