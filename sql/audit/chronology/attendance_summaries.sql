-- Chronology events from attendance_summaries (reads: attendance_summaries, person_identifiers).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT period_end, 'EDUCATION', 'attendance_summaries', 'Attendance summary',
       concat(CAST(period_start AS VARCHAR), ' to ', CAST(period_end AS VARCHAR), ': present ',
              present_sessions, ' of ', possible_sessions, ' possible sessions',
              CASE WHEN possible_sessions > 0
                   THEN concat(' (', round(100.0 * present_sessions / possible_sessions, 1), '%)') ELSE '' END,
              '; authorised absences ', coalesce(CAST(authorised_absence_sessions AS VARCHAR), 'not given'),
              ', unauthorised ', coalesce(CAST(unauthorised_absence_sessions AS VARCHAR), 'not given'),
              coalesce('; school URN ' || school_urn, '')),
       school_urn
FROM attendance_summaries WHERE upn IN (SELECT identifier_value FROM person_identifiers
                                        WHERE person_id = $person_id AND identifier_type = 'UPN')
