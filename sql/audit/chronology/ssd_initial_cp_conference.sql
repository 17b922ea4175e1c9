-- Chronology events from ssd_initial_cp_conference (reads: ssd_initial_cp_conference).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT coalesce(icpc_icpc_date, icpc_icpc_target_date), 'SOCIAL_CARE', 'ssd_initial_cp_conference',
       CASE WHEN icpc_icpc_date IS NOT NULL THEN 'ICPC' ELSE 'ICPC target date' END,
       concat('Initial child protection conference ', icpc_icpc_id,
              coalesce(' (meeting ' || icpc_icpc_meeting_id || ')', ''),
              coalesce(' for S47 enquiry ' || icpc_s47_enquiry_id, ''),
              '; target date ', coalesce(CAST(icpc_icpc_target_date AS VARCHAR), 'not recorded'),
              CASE WHEN icpc_icpc_date IS NULL THEN '; no conference date recorded' ELSE '' END),
       icpc_icpc_id
FROM ssd_initial_cp_conference WHERE icpc_person_id = $person_id
