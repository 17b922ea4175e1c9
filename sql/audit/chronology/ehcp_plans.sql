-- Chronology events from ehcp_plans (reads: ehcp_plans, person_identifiers).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT named_plan_start_date, 'EDUCATION', 'ehcp_plans', 'EHCP started',
       concat('EHCP ', ehcp_id, ' named plan started', coalesce(', school URN ' || school_urn, '')), ehcp_id
FROM ehcp_plans WHERE upn IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN')
UNION ALL
SELECT last_review_date, 'EDUCATION', 'ehcp_plans', 'EHCP reviewed',
       concat('EHCP ', ehcp_id, ' last reviewed'), ehcp_id
FROM ehcp_plans WHERE upn IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN') AND last_review_date IS NOT NULL
UNION ALL
SELECT ceased_date, 'EDUCATION', 'ehcp_plans', 'EHCP ceased', concat('EHCP ', ehcp_id, ' ceased'), ehcp_id
FROM ehcp_plans WHERE upn IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN') AND ceased_date IS NOT NULL
