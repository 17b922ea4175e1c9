-- ESCALATION_NOT_USED: an unresolved professional difference about a CiN child that has sat too
-- long: at stage 0 (recorded, not escalated) older than the stage-0 limit, or at an escalation
-- stage (1-4) longer than the per-stage limit. One row per difference, owned by the raising agency.
-- "Older than the limit": D is after the N-th working day after the clock start (the last day
-- "within N working days", docs/ARCHITECTURE.md). On a working day D that means more than N
-- working days have passed: exactly N does not fire, N + 1 does.
WITH unresolved_differences AS (
    SELECT
        difference.difference_id,
        difference.person_id,
        CAST(difference.raised_by_agency AS VARCHAR) AS raised_by_agency,
        CAST(difference.about_agency AS VARCHAR) AS about_agency,
        difference.raised_date,
        difference.current_stage,
        difference.stage_date,
        -- Time in an escalation stage runs from its stage date; the raised date stands in when
        -- the stage date is missing.
        CASE WHEN difference.current_stage = 0 THEN difference.raised_date
             ELSE coalesce(difference.stage_date, difference.raised_date) END AS clock_start,
        CASE WHEN difference.current_stage = 0 THEN $stage0_working_days
             ELSE $per_stage_working_days END AS limit_working_days
    FROM professional_differences AS difference
    JOIN cin_children($as_at) AS cin ON cin.person_id = difference.person_id
    WHERE difference.raised_date <= $as_at
      AND (difference.resolved_date IS NULL OR difference.resolved_date > $as_at)
),

aged_differences AS (
    SELECT
        *,
        add_working_days(clock_start, limit_working_days) AS limit_date,
        working_days_between(clock_start, $as_at) AS working_days_in_stage
    FROM unresolved_differences
)

SELECT
    person_id,
    raised_by_agency AS agency,
    'professional_difference' AS entity_type,
    difference_id AS entity_id,
    -- A dispute that was escalated and then stalled is the graver failure of the policy.
    CASE WHEN current_stage = 0 THEN 'MEDIUM' ELSE 'HIGH' END AS severity,
    'Professional difference with ' || about_agency || ' raised on ' || strftime(raised_date, '%Y-%m-%d')
        || CASE WHEN current_stage = 0
                THEN ' is unresolved and has not been escalated after '
                ELSE ' has been at escalation stage ' || current_stage || ' since '
                     || strftime(clock_start, '%Y-%m-%d')
                     || CASE WHEN stage_date IS NULL THEN ' (stage date not recorded: raised date used)' ELSE '' END
                     || ', unresolved for '
           END
        || working_days_in_stage || ' working days (limit ' || limit_working_days || ' working days, passed on '
        || strftime(limit_date, '%Y-%m-%d') || ').' AS detail,
    'professional_differences.difference_id=' || difference_id
        || '; raised_date=' || strftime(raised_date, '%Y-%m-%d')
        || '; current_stage=' || current_stage
        || coalesce('; stage_date=' || strftime(stage_date, '%Y-%m-%d'), '') AS locator,
    working_days_in_stage AS magnitude,
    limit_working_days AS threshold,
    'working days' AS magnitude_unit
FROM aged_differences
WHERE limit_date < $as_at
