-- One row per cohort child at $as_at: age, need type, disabilities, open-exception weight and last audit
-- (the latest, even one dated after $as_at).
-- Reads the temp tables audit_open_exceptions (caseflags.audit.sampling.open_exceptions) and
-- audit_audited_children (caseflags.audit.sampling.audited_children).
WITH cin_children AS (
    SELECT DISTINCT cinp_person_id AS person_id
    FROM ssd_cin_plans
    WHERE cinp_cin_plan_start_date <= $as_at
      AND (cinp_cin_plan_end_date IS NULL OR cinp_cin_plan_end_date > $as_at)
),
active_ehcp_children AS (
    SELECT DISTINCT pupil.person_id
    FROM ehcp_plans AS plan
    JOIN person_identifiers AS pupil
      ON pupil.identifier_type = 'UPN' AND pupil.identifier_value = plan.upn
    WHERE plan.named_plan_start_date <= $as_at
      AND (plan.ceased_date IS NULL OR plan.ceased_date > $as_at)
),
cohort_children AS (
    SELECT person_id FROM cin_children
    WHERE $cohort = 'CIN'
       OR ($cohort = 'CIN_WITH_ACTIVE_EHCP' AND person_id IN (SELECT person_id FROM active_ehcp_children))
    UNION
    SELECT person_id FROM active_ehcp_children WHERE $cohort = 'ACTIVE_EHCP'
),
dates_of_birth AS (
    SELECT pers_person_id AS person_id, min(pers_dob) AS dob
    FROM ssd_person
    GROUP BY pers_person_id
),
latest_open_episode_need AS (
    SELECT cine_person_id AS person_id,
           coalesce(CAST(cine_cin_primary_need_code AS VARCHAR), 'NOT_RECORDED') AS need_type
    FROM ssd_cin_episodes
    WHERE cine_referral_date <= $as_at AND (cine_close_date IS NULL OR cine_close_date > $as_at)
    QUALIFY row_number() OVER (
        PARTITION BY cine_person_id ORDER BY cine_referral_date DESC, cine_referral_id DESC
    ) = 1
),
disability_lists AS (
    SELECT disa_person_id AS person_id,
           array_to_string(list_sort(list_distinct(list(CAST(disa_disability_code AS VARCHAR)))), ', ')
               AS disabilities
    FROM ssd_disability
    GROUP BY disa_person_id
),
exceptions_by_concern AS (
    SELECT person_id, check_id, count(*) AS exception_count,
           max(4 - severity_rank(severity)) AS points  -- HIGH 3, MEDIUM 2, LOW 1
    FROM audit_open_exceptions
    GROUP BY person_id, check_id
),
exception_totals AS (
    SELECT person_id,
           CAST(sum(exception_count) AS INTEGER) AS open_exceptions,
           CAST(count(*) AS INTEGER) AS distinct_concerns,
           CAST(sum(points) AS INTEGER) AS weight
    FROM exceptions_by_concern
    GROUP BY person_id
),
last_audits AS (
    SELECT person_id, max(audited_on) AS last_audited_on
    FROM audit_audited_children
    GROUP BY person_id
)
SELECT
    cohort_children.person_id,
    CASE WHEN dates_of_birth.dob IS NOT NULL THEN
        year($as_at) - year(dates_of_birth.dob)
        - CASE WHEN strftime($as_at, '%m%d') < strftime(dates_of_birth.dob, '%m%d') THEN 1 ELSE 0 END
    END AS age_years,
    coalesce(latest_open_episode_need.need_type, 'NO_OPEN_EPISODE') AS need_type,
    coalesce(disability_lists.disabilities, '') AS disabilities,
    coalesce(exception_totals.open_exceptions, 0) AS open_exceptions,
    coalesce(exception_totals.distinct_concerns, 0) AS distinct_concerns,
    coalesce(exception_totals.weight, 0) AS weight,
    last_audits.last_audited_on,
    -- Audited on or after the window's first day, D - (N - 1); no upper bound: an audit dated after
    -- D (marked since the run) is certainly recent. N = 0 excludes nobody.
    coalesce($exclude_days > 0 AND last_audits.last_audited_on >= $as_at - CAST($exclude_days - 1 AS INTEGER), false)
        AS recently_audited
FROM cohort_children
LEFT JOIN dates_of_birth USING (person_id)
LEFT JOIN latest_open_episode_need USING (person_id)
LEFT JOIN disability_lists USING (person_id)
LEFT JOIN exception_totals USING (person_id)
LEFT JOIN last_audits USING (person_id)
ORDER BY cohort_children.person_id
