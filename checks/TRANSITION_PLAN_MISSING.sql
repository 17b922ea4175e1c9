-- TRANSITION_PLAN_MISSING: a young person who should have transition planning has no open
-- PREPARING_FOR_ADULTHOOD or POST_16 plan at D, or the open plan was last reviewed (started,
-- when never reviewed) more than the review interval before D.
--   HIGH:   CiN or active EHCP, aged at least the transition age (default 15 years 6 months);
--   MEDIUM: active EHCP only, from Year 9 (aged 13 or more on the 31 August before D).
-- Owner: SOCIAL_CARE for a CiN child; EDUCATION for an EHCP child who is not CiN.
WITH cohort AS (
    SELECT
        person.pers_person_id AS person_id,
        cin.person_id IS NOT NULL AS is_cin,
        ehcp.person_id IS NOT NULL AS has_active_ehcp,
        age_months(person.pers_dob, $as_at) >= $transition_age_months AS past_transition_age,
        age_on_31_august_before(person.pers_dob, $as_at) >= $year9_age_on_31_august AS in_year9_or_above
    FROM ssd_person AS person
    LEFT JOIN cin_children($as_at) AS cin ON cin.person_id = person.pers_person_id
    LEFT JOIN active_ehcp_children($as_at) AS ehcp ON ehcp.person_id = person.pers_person_id
    WHERE (cin.person_id IS NOT NULL OR ehcp.person_id IS NOT NULL)
      AND NOT died_by(person.pers_death_date, $as_at)  -- no transition to plan after a death
),

children_needing_plan AS (
    SELECT
        person_id,
        is_cin,
        has_active_ehcp,
        past_transition_age,
        CASE WHEN past_transition_age THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
        CASE WHEN is_cin THEN 'SOCIAL_CARE' ELSE 'EDUCATION' END AS owner_agency
    FROM cohort
    WHERE past_transition_age
       OR (has_active_ehcp AND in_year9_or_above)
),

-- The open plan with the most recent review (or start) stands for the child.
latest_open_plans AS (
    SELECT
        person_id,
        arg_max(plan_id, coalesce(last_review_date, start_date)) AS plan_id,
        arg_max(CAST(plan_type AS VARCHAR), coalesce(last_review_date, start_date)) AS plan_type,
        max(coalesce(last_review_date, start_date)) AS reviewed_or_started
    FROM transition_plans
    WHERE plan_type IN ('PREPARING_FOR_ADULTHOOD', 'POST_16')
      AND start_date <= $as_at
      AND (end_date IS NULL OR end_date > $as_at)
    GROUP BY person_id
)

SELECT
    child.person_id,
    child.owner_agency AS agency,
    'child' AS entity_type,
    child.person_id AS entity_id,
    child.severity,
    CASE WHEN child.past_transition_age
         THEN 'Young person aged ' || ($transition_age_months // 12) || ' years '
              || ($transition_age_months % 12) || ' months or more'
         ELSE 'Young person with an EHCP in Year 9 or above' END
        || CASE WHEN child.is_cin AND child.has_active_ehcp THEN ' (CiN, active EHCP)'
                WHEN child.is_cin THEN ' (CiN)'
                ELSE ' (active EHCP, not CiN)' END
        || CASE WHEN plan.plan_id IS NULL
                THEN ' has no open preparing-for-adulthood or post-16 transition plan at '
                     || strftime(CAST($as_at AS DATE), '%Y-%m-%d') || '.'
                ELSE ' has a ' || plan.plan_type || ' transition plan last reviewed (or started) on '
                     || strftime(plan.reviewed_or_started, '%Y-%m-%d') || ', more than '
                     || $review_interval_months || ' months before '
                     || strftime(CAST($as_at AS DATE), '%Y-%m-%d') || '.' END AS detail,
    'ssd_person.pers_person_id=' || child.person_id
        || coalesce('; transition_plans.plan_id=' || plan.plan_id
                    || '; last reviewed or started=' || strftime(plan.reviewed_or_started, '%Y-%m-%d'),
                    '; no open transition plan') AS locator
FROM children_needing_plan AS child
LEFT JOIN latest_open_plans AS plan ON plan.person_id = child.person_id
WHERE plan.plan_id IS NULL
   -- Reviewed exactly review-interval months before D is still in time.
   OR CAST(plan.reviewed_or_started + to_months($review_interval_months) AS DATE) < $as_at
