-- Chronology events from ssd_assessment_factors (reads: ssd_assessment_factors, ssd_cin_assessments).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT coalesce(assessment.cina_assessment_auth_date, assessment.cina_assessment_start_date),
       'SOCIAL_CARE', 'ssd_assessment_factors', 'Assessment factors',
       concat('Factors on assessment ', factors.cinf_assessment_id, ': ',
              array_to_string(factors.cinf_assessment_factors_json, ', '),
              CASE WHEN list_contains(factors.cinf_assessment_factors_json, '15A')
                   THEN ' (15A: self-harm)' ELSE '' END),
       factors.cinf_assessment_id
FROM ssd_assessment_factors AS factors
JOIN ssd_cin_assessments AS assessment ON assessment.cina_assessment_id = factors.cinf_assessment_id
WHERE assessment.cina_person_id = $person_id
