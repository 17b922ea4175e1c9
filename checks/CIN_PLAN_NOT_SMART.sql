-- CIN_PLAN_NOT_SMART: the open CIN plan is not a SMART action plan: it has no actions, or an
-- open action has no owner (role or named professional), no due date, no outcome measure, or
-- is overdue by more than the grace period (still open after the grace_working_days-th working
-- day after its due date). An action with no status is treated as open: nothing closed it.
WITH plans_at_as_at AS (
    SELECT plan_id, person_id, plan_start_date FROM open_cin_plans($as_at)
),

plan_actions_classified AS (
    SELECT
        action.plan_id,
        action.action_id,
        action.due_date,
        coalesce(CAST(action.status AS VARCHAR), 'OPEN') = 'OPEN' AS is_open,
        nullif(trim(coalesce(action.owner_role, '')), '') IS NULL
            AND nullif(trim(coalesce(action.owner_professional_id, '')), '') IS NULL AS lacks_owner,
        action.due_date IS NULL AS lacks_due_date,
        nullif(trim(coalesce(action.outcome_measure, '')), '') IS NULL AS lacks_outcome_measure,
        action.due_date IS NOT NULL
            AND CAST($as_at AS DATE) > add_working_days(action.due_date, $overdue_grace_working_days) AS is_overdue
    FROM plan_actions AS action
    JOIN plans_at_as_at AS plan ON plan.plan_id = action.plan_id
),

plan_action_summary AS (
    SELECT
        plan_id,
        count(*) AS action_count,
        count(*) FILTER (WHERE is_open) AS open_count,
        count(*) FILTER (WHERE is_open AND lacks_owner) AS without_owner,
        count(*) FILTER (WHERE is_open AND lacks_due_date) AS without_due_date,
        count(*) FILTER (WHERE is_open AND lacks_outcome_measure) AS without_outcome_measure,
        count(*) FILTER (WHERE is_open AND is_overdue) AS overdue,
        min(due_date) FILTER (WHERE is_open AND is_overdue) AS earliest_overdue_due_date,
        string_agg(action_id, ', ' ORDER BY action_id)
            FILTER (WHERE is_open AND (lacks_owner OR lacks_due_date OR lacks_outcome_measure OR is_overdue)) AS failing_action_ids
    FROM plan_actions_classified
    GROUP BY plan_id
),

plans_not_smart AS (
    SELECT
        plan.plan_id,
        plan.person_id,
        plan.plan_start_date,
        coalesce(summary.action_count, 0) AS action_count,
        summary.open_count,
        summary.without_owner,
        summary.without_due_date,
        summary.without_outcome_measure,
        summary.overdue,
        summary.earliest_overdue_due_date,
        summary.failing_action_ids
    FROM plans_at_as_at AS plan
    LEFT JOIN plan_action_summary AS summary ON summary.plan_id = plan.plan_id
    WHERE summary.plan_id IS NULL
       OR summary.without_owner + summary.without_due_date + summary.without_outcome_measure + summary.overdue > 0
)

SELECT
    person_id,
    'SOCIAL_CARE' AS agency,
    'cin_plan' AS entity_type,
    plan_id AS entity_id,
    CASE WHEN action_count = 0 THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    CASE
        WHEN action_count = 0 THEN
            'CIN plan ' || plan_id || ', open since ' || strftime(plan_start_date, '%Y-%m-%d')
            || ', has no recorded actions as at ' || strftime($as_at, '%Y-%m-%d')
            || ': record SMART actions with an owner, due date and outcome measure.'
        ELSE
            'CIN plan ' || plan_id || ', open since ' || strftime(plan_start_date, '%Y-%m-%d') || ', has '
            || open_count || ' open action(s) of ' || action_count || ', of which '
            || concat_ws(', ',
                CASE WHEN without_owner > 0 THEN without_owner || ' without an owner' END,
                CASE WHEN without_due_date > 0 THEN without_due_date || ' without a due date' END,
                CASE WHEN without_outcome_measure > 0 THEN without_outcome_measure || ' without an outcome measure' END,
                CASE WHEN overdue > 0 THEN overdue || ' overdue by more than ' || $overdue_grace_working_days
                    || ' working days (earliest due ' || strftime(earliest_overdue_due_date, '%Y-%m-%d') || ')' END)
            || ': update the actions (' || failing_action_ids || ').'
    END AS detail,
    'ssd_cin_plans.cinp_cin_plan_id=' || plan_id || ' (start ' || strftime(plan_start_date, '%Y-%m-%d') || ')'
        || CASE WHEN failing_action_ids IS NOT NULL THEN '; plan_actions.action_id=' || failing_action_ids ELSE '' END AS locator
FROM plans_not_smart
