-- Chronology events from professional_differences (reads: professional_differences).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT raised_date, CAST(raised_by_agency AS VARCHAR), 'professional_differences',
       'Professional difference raised',
       concat('Difference ', difference_id, ' raised by ', CAST(raised_by_agency AS VARCHAR), ' about ',
              CAST(about_agency AS VARCHAR), '; topic ', coalesce(CAST(topic AS VARCHAR), 'not recorded'), '; current stage ', current_stage),
       difference_id
FROM professional_differences WHERE person_id = $person_id
UNION ALL
SELECT stage_date, CAST(raised_by_agency AS VARCHAR), 'professional_differences', 'Escalation stage reached',
       concat('Difference ', difference_id, ' reached escalation stage ', current_stage), difference_id
FROM professional_differences WHERE person_id = $person_id AND stage_date IS NOT NULL AND current_stage >= 1
UNION ALL
SELECT resolved_date, CAST(raised_by_agency AS VARCHAR), 'professional_differences',
       'Professional difference resolved', concat('Difference ', difference_id, ' resolved'), difference_id
FROM professional_differences WHERE person_id = $person_id AND resolved_date IS NOT NULL
