-- Chronology events from ssd_s47_enquiry (reads: ssd_s47_enquiry).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT s47e_s47_start_date, 'SOCIAL_CARE', 'ssd_s47_enquiry', 'S47 enquiry started',
       concat('S47 enquiry ', s47e_s47_enquiry_id, ' started'), s47e_s47_enquiry_id
FROM ssd_s47_enquiry WHERE s47e_person_id = $person_id
UNION ALL
SELECT s47e_s47_end_date, 'SOCIAL_CARE', 'ssd_s47_enquiry', 'S47 enquiry ended',
       concat('S47 enquiry ', s47e_s47_enquiry_id, ' ended; no further action: ', CASE WHEN s47e_s47_nfa THEN 'yes' WHEN NOT s47e_s47_nfa THEN 'no' ELSE 'not recorded' END),
       s47e_s47_enquiry_id
FROM ssd_s47_enquiry WHERE s47e_person_id = $person_id AND s47e_s47_end_date IS NOT NULL
