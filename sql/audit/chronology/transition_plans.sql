-- Chronology events from transition_plans (reads: transition_plans).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT start_date, 'SOCIAL_CARE', 'transition_plans', 'Transition plan started',
       concat(CAST(plan_type AS VARCHAR), ' plan ', plan_id, ' started'), plan_id
FROM transition_plans WHERE person_id = $person_id
UNION ALL
SELECT last_review_date, 'SOCIAL_CARE', 'transition_plans', 'Transition plan reviewed',
       concat(CAST(plan_type AS VARCHAR), ' plan ', plan_id, ' reviewed'), plan_id
FROM transition_plans WHERE person_id = $person_id AND last_review_date IS NOT NULL
UNION ALL
SELECT end_date, 'SOCIAL_CARE', 'transition_plans', 'Transition plan ended',
       concat(CAST(plan_type AS VARCHAR), ' plan ', plan_id, ' ended'), plan_id
FROM transition_plans WHERE person_id = $person_id AND end_date IS NOT NULL
