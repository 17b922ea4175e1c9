-- Chronology events from attendance_sessions (reads: attendance_sessions, person_identifiers).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
WITH pupil_sessions AS (
    SELECT session_date, CAST(attendance_code AS VARCHAR) AS code
    FROM attendance_sessions
    WHERE upn IN (SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN') AND session_date <= $as_at
),
monthly_attendance AS (
    SELECT date_trunc('month', session_date) AS month,
           count(*) FILTER (WHERE code NOT IN ('Q', 'Y1', 'Y2', 'Y3', 'Y4', 'Y5', 'Y6', 'Y7', 'X', 'Z', '#')) AS possible,
           count(*) FILTER (WHERE code IN ('/', '\', 'L', 'K', 'V', 'P', 'W', 'B')) AS attended,
           count(*) FILTER (WHERE code IN ('C', 'C1', 'C2', 'M', 'J1', 'S', 'T', 'R', 'I', 'E')) AS authorised,
           count(*) FILTER (WHERE code IN ('G', 'N', 'O', 'U')) AS unauthorised
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
