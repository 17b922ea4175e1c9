-- Chronology events from plan_actions (reads: plan_actions).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT CASE WHEN completed_date <= $as_at THEN completed_date WHEN due_date <= $as_at THEN due_date END,
       coalesce(CAST(owner_agency AS VARCHAR), 'SOCIAL_CARE'), 'plan_actions',
       CASE WHEN completed_date <= $as_at THEN 'Plan action completed'
            WHEN due_date <= $as_at AND status = 'OPEN' THEN 'Plan action overdue'
            WHEN due_date <= $as_at THEN 'Plan action due'
            ELSE 'Plan action (no date yet)' END,
       concat('Action ', action_id, ' on plan ', plan_id, ': ', action_text,
              '; owner ', coalesce(owner_role, owner_professional_id, 'not recorded'),
              '; due ', coalesce(CAST(due_date AS VARCHAR), 'not recorded'), '; outcome measure ', coalesce(CAST(outcome_measure AS VARCHAR), 'not recorded'),
              '; status ', coalesce(CAST(status AS VARCHAR), 'not recorded')),
       action_id
FROM plan_actions WHERE person_id = $person_id
