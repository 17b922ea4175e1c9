-- Chronology events from attendance_sessions (reads: attendance_sessions, person_identifiers).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
WITH pupil_sessions AS (
    SELECT session_date, attendance_class(attendance_code) AS session_class
    FROM attendance_sessions
    WHERE upn IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN') AND session_date <= $as_at
),
monthly_attendance AS (
    SELECT date_trunc('month', session_date) AS month,
           count(*) FILTER (WHERE session_class <> 'not_possible') AS possible,
           count(*) FILTER (WHERE session_class = 'attending') AS attended,
           count(*) FILTER (WHERE session_class = 'authorised') AS authorised,
           count(*) FILTER (WHERE session_class = 'unauthorised') AS unauthorised
    FROM pupil_sessions
    GROUP BY ALL
)
SELECT least(CAST(last_day(month) AS DATE), CAST($as_at AS DATE)), 'EDUCATION', 'attendance_sessions',
       'Attendance in the month',
       concat(strftime(month, '%B %Y'), ': attended ', attended, ' of ', possible, ' possible sessions',
              CASE WHEN possible > 0 THEN concat(' (', round(100.0 * attended / possible, 1), '%)') ELSE '' END,
              '; ', authorised, ' authorised and ', unauthorised, ' unauthorised absences'),
       strftime(month, '%Y-%m')
FROM monthly_attendance
