-- Chronology events from ssd_cin_plans (reads: ssd_cin_plans).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT cinp_cin_plan_start_date, 'SOCIAL_CARE', 'ssd_cin_plans', 'CIN plan started',
       concat('CIN plan ', cinp_cin_plan_id, ' started'), cinp_cin_plan_id
FROM ssd_cin_plans WHERE cinp_person_id = $person_id
UNION ALL
SELECT cinp_cin_plan_end_date, 'SOCIAL_CARE', 'ssd_cin_plans', 'CIN plan ended',
       concat('CIN plan ', cinp_cin_plan_id, ' ended'), cinp_cin_plan_id
FROM ssd_cin_plans WHERE cinp_person_id = $person_id AND cinp_cin_plan_end_date IS NOT NULL
