-- ATTENDANCE_DATA_MISSING: a CiN child of compulsory school age with no attendance data at all
-- (no session of any code, no overlapping summary) in the attendance window, which reaches
-- back to the start of the previous academic year (SCHOOL_ATTENDANCE_LOW uses that year when
-- this one has too few sessions). Absence data matched through the child's UPNs only.
WITH bounds AS (
    SELECT
        CAST(academic_year_start($as_at) - INTERVAL 1 YEAR AS DATE) AS window_start,
        CAST($as_at AS DATE) AS window_end
),

school_age_cin_children AS (
    SELECT cin.person_id, min(cin.plan_start_date) AS cin_since
    FROM open_cin_plans($as_at) AS cin
    JOIN ssd_person AS person ON person.pers_person_id = cin.person_id
    WHERE is_compulsory_school_age(person.pers_dob, $as_at)
      AND NOT died_by(person.pers_death_date, $as_at)  -- no attendance is expected after a death
    GROUP BY cin.person_id
),

pupil_upns AS (
    SELECT child.person_id, identifier.identifier_value AS upn
    FROM school_age_cin_children AS child
    JOIN person_identifiers AS identifier
      ON identifier.person_id = child.person_id AND identifier.identifier_type = 'UPN'
),

children_with_sessions AS (
    SELECT DISTINCT pupil.person_id
    FROM attendance_sessions AS attendance
    JOIN pupil_upns AS pupil ON pupil.upn = attendance.upn
    CROSS JOIN bounds
    WHERE attendance.session_date BETWEEN bounds.window_start AND bounds.window_end
),

children_with_summaries AS (
    SELECT DISTINCT pupil.person_id
    FROM attendance_summaries AS summary
    JOIN pupil_upns AS pupil ON pupil.upn = summary.upn
    CROSS JOIN bounds
    WHERE summary.period_start <= bounds.window_end AND summary.period_end >= bounds.window_start
),

children_upn_counts AS (
    SELECT child.person_id, count(pupil.upn) AS upn_count, string_agg(pupil.upn, ', ' ORDER BY pupil.upn) AS upns
    FROM school_age_cin_children AS child
    LEFT JOIN pupil_upns AS pupil ON pupil.person_id = child.person_id
    GROUP BY child.person_id
)

SELECT
    child.person_id,
    'EDUCATION' AS agency,
    'child' AS entity_type,
    child.person_id AS entity_id,
    'MEDIUM' AS severity,
    CASE
        WHEN upns.upn_count = 0 THEN
            'Child in Need since ' || strftime(child.cin_since, '%Y-%m-%d')
            || ' is of compulsory school age but no valid UPN is known, so no attendance can be found from '
            || strftime(bounds.window_start, '%Y-%m-%d') || ' to ' || strftime(bounds.window_end, '%Y-%m-%d')
            || ': confirm the school and UPN.'
        ELSE
            'Child in Need since ' || strftime(child.cin_since, '%Y-%m-%d')
            || ' is of compulsory school age but no attendance sessions or summaries were received from '
            || strftime(bounds.window_start, '%Y-%m-%d') || ' to ' || strftime(bounds.window_end, '%Y-%m-%d')
            || ': confirm the school roll and send attendance.'
    END AS detail,
    CASE WHEN upns.upn_count = 0 THEN 'ssd_person.pers_person_id=' || child.person_id || ' (no UPN)'
        ELSE 'upn=' || upns.upns END
        || '; attendance ' || strftime(bounds.window_start, '%Y-%m-%d') || ' to ' || strftime(bounds.window_end, '%Y-%m-%d') AS locator
FROM school_age_cin_children AS child
CROSS JOIN bounds
JOIN children_upn_counts AS upns ON upns.person_id = child.person_id
LEFT JOIN children_with_sessions AS sessions ON sessions.person_id = child.person_id
LEFT JOIN children_with_summaries AS summaries ON summaries.person_id = child.person_id
WHERE sessions.person_id IS NULL AND summaries.person_id IS NULL
