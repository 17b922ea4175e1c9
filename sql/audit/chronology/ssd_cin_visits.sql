-- Chronology events from ssd_cin_visits (reads: ssd_cin_visits).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT cinv_cin_visit_date, 'SOCIAL_CARE', 'ssd_cin_visits', 'CIN visit',
       concat('Visit ', cinv_cin_visit_id, '; child seen: ', CASE WHEN cinv_cin_visit_seen THEN 'yes' WHEN NOT cinv_cin_visit_seen THEN 'no' ELSE 'not recorded' END,
              '; seen alone: ', CASE WHEN cinv_cin_visit_seen_alone THEN 'yes' WHEN NOT cinv_cin_visit_seen_alone THEN 'no' ELSE 'not recorded' END),
       cinv_cin_visit_id
FROM ssd_cin_visits WHERE cinv_person_id = $person_id
