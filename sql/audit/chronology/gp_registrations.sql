-- Chronology events from gp_registrations (reads: gp_registrations, person_identifiers).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT registered_from, 'GP', 'gp_registrations', 'GP registration',
       concat('Registered with practice ', practice_code), practice_code
FROM gp_registrations WHERE nhs_number IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'NHS_NUMBER')
UNION ALL
SELECT registered_to, 'GP', 'gp_registrations', 'GP registration ended',
       concat('Registration with practice ', practice_code, ' ended'), practice_code
FROM gp_registrations WHERE nhs_number IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'NHS_NUMBER') AND registered_to IS NOT NULL
