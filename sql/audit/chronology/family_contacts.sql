-- Chronology events from family_contacts (reads: family_contacts).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT contact_date, CAST(agency AS VARCHAR), 'family_contacts',
       concat('Contact: ', CAST(contact_type AS VARCHAR)),
       concat(CAST(contact_type AS VARCHAR), ' by ', CAST(agency AS VARCHAR),
              coalesce(' (professional ' || professional_id || ')', ''),
              CASE WHEN joint_with_agency IS NULL THEN '; not joint'
                   ELSE concat('; joint with ', CAST(joint_with_agency AS VARCHAR)) END),
       contact_id
FROM family_contacts WHERE person_id = $person_id
