-- Chronology events from ssd_cin_assessments (reads: ssd_cin_assessments).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT cina_assessment_start_date, 'SOCIAL_CARE', 'ssd_cin_assessments', 'Assessment started',
       concat('Assessment ', cina_assessment_id, ' started (referral ', coalesce(CAST(cina_referral_id AS VARCHAR), 'not recorded'), ')'),
       cina_assessment_id
FROM ssd_cin_assessments WHERE cina_person_id = $person_id
UNION ALL
SELECT cina_assessment_auth_date, 'SOCIAL_CARE', 'ssd_cin_assessments', 'Assessment authorised',
       concat('Assessment ', cina_assessment_id, ' authorised; child seen: ',
              CASE WHEN cina_assessment_child_seen THEN 'yes' WHEN NOT cina_assessment_child_seen THEN 'no' ELSE 'not recorded' END),
       cina_assessment_id
FROM ssd_cin_assessments WHERE cina_person_id = $person_id AND cina_assessment_auth_date IS NOT NULL
