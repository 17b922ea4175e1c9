-- SCHOOL_ATTENDANCE_LOW: a CiN child of compulsory school age missing at least the persistent
-- absence share of possible sessions (exactly the threshold counts); HIGH at the severe share.
-- Window: the academic year to D (1 September on), or the previous academic year when fewer
-- than min_possible_sessions possible sessions are recorded so far this year. Sessions are
-- counted by code (EXTRACTS.md); a child with no sessions in a window is counted from the
-- attendance_summaries overlapping it.
WITH bounds AS (
    SELECT
        academic_year_start($as_at) AS current_start,
        CAST($as_at AS DATE) AS current_end,
        CAST(academic_year_start($as_at) - INTERVAL 1 YEAR AS DATE) AS previous_start,
        CAST(academic_year_start($as_at) - INTERVAL 1 DAY AS DATE) AS previous_end
),

school_age_cin_children AS (
    SELECT DISTINCT cin.person_id
    FROM cin_children($as_at) AS cin
    JOIN ssd_person AS person ON person.pers_person_id = cin.person_id
    WHERE is_compulsory_school_age(person.pers_dob, $as_at)
      AND NOT died_by(person.pers_death_date, $as_at)  -- no attendance is expected after a death
),

pupil_upns AS (
    SELECT child.person_id, identifier.identifier_value AS upn
    FROM school_age_cin_children AS child
    JOIN person_identifiers AS identifier
      ON identifier.person_id = child.person_id AND identifier.identifier_type = 'UPN'
),

windows AS (
    SELECT 'current' AS window_name, current_start AS window_start, current_end AS window_end FROM bounds
    UNION ALL
    SELECT 'previous', previous_start, previous_end FROM bounds
),

classified_sessions AS (
    SELECT
        pupil.person_id,
        attendance.upn,
        attendance.school_urn,
        attendance.session_date,
        attendance_class(attendance.attendance_code) AS session_class
    FROM attendance_sessions AS attendance
    JOIN pupil_upns AS pupil ON pupil.upn = attendance.upn
    CROSS JOIN bounds
    WHERE attendance.session_date BETWEEN bounds.previous_start AND bounds.current_end
),

session_counts AS (
    SELECT
        session.person_id,
        term.window_name,
        count(*) AS session_rows,
        count(*) FILTER (WHERE session.session_class <> 'not_possible') AS possible,
        count(*) FILTER (WHERE session.session_class IN ('authorised', 'unauthorised')) AS missed,
        count(*) FILTER (WHERE session.session_class = 'authorised') AS authorised,
        count(*) FILTER (WHERE session.session_class = 'unauthorised') AS unauthorised,
        string_agg(DISTINCT session.upn, ', ') AS upns,
        string_agg(DISTINCT session.school_urn, ', ') AS school_urns
    FROM classified_sessions AS session
    JOIN windows AS term ON session.session_date BETWEEN term.window_start AND term.window_end
    GROUP BY session.person_id, term.window_name
),

summary_counts AS (
    SELECT
        pupil.person_id,
        term.window_name,
        sum(summary.possible_sessions) AS possible,
        sum(summary.possible_sessions - summary.present_sessions) AS missed,
        sum(summary.authorised_absence_sessions) AS authorised,
        sum(summary.unauthorised_absence_sessions) AS unauthorised,
        string_agg(DISTINCT summary.upn, ', ') AS upns,
        string_agg(DISTINCT summary.school_urn, ', ') AS school_urns,
        min(summary.period_start) AS first_period_start,
        max(summary.period_end) AS last_period_end
    FROM attendance_summaries AS summary
    JOIN pupil_upns AS pupil ON pupil.upn = summary.upn
    JOIN windows AS term
      ON summary.period_start <= term.window_end AND summary.period_end >= term.window_start
    GROUP BY pupil.person_id, term.window_name
),

attendance_by_window AS (
    -- Sessions when the child has any in the window; otherwise the overlapping summaries.
    SELECT
        coalesce(sessions.person_id, summaries.person_id) AS person_id,
        coalesce(sessions.window_name, summaries.window_name) AS window_name,
        CASE WHEN sessions.session_rows > 0 THEN 'sessions' ELSE 'summaries' END AS source,
        CASE WHEN sessions.session_rows > 0 THEN sessions.possible ELSE summaries.possible END AS possible,
        CASE WHEN sessions.session_rows > 0 THEN sessions.missed ELSE summaries.missed END AS missed,
        CASE WHEN sessions.session_rows > 0 THEN sessions.authorised ELSE summaries.authorised END AS authorised,
        CASE WHEN sessions.session_rows > 0 THEN sessions.unauthorised ELSE summaries.unauthorised END AS unauthorised,
        CASE WHEN sessions.session_rows > 0 THEN sessions.upns ELSE summaries.upns END AS upns,
        CASE WHEN sessions.session_rows > 0 THEN sessions.school_urns ELSE summaries.school_urns END AS school_urns,
        summaries.first_period_start,
        summaries.last_period_end
    FROM session_counts AS sessions
    FULL OUTER JOIN summary_counts AS summaries
      ON summaries.person_id = sessions.person_id AND summaries.window_name = sessions.window_name
),

chosen_window AS (
    -- This academic year once it has enough possible sessions; before that the previous year
    -- (when it has any), else what this year has.
    SELECT
        current_year.person_id,
        CASE
            WHEN coalesce(current_year.possible, 0) >= $min_possible_sessions THEN 'current'
            WHEN coalesce(previous_year.possible, 0) > 0 THEN 'previous'
            ELSE 'current'
        END AS window_name
    FROM (SELECT DISTINCT person_id FROM attendance_by_window) AS children
    LEFT JOIN attendance_by_window AS current_year
      ON current_year.person_id = children.person_id AND current_year.window_name = 'current'
    LEFT JOIN attendance_by_window AS previous_year
      ON previous_year.person_id = children.person_id AND previous_year.window_name = 'previous'
),

attendance_in_window AS (
    SELECT attendance.*, term.window_start, term.window_end
    FROM chosen_window AS chosen
    JOIN attendance_by_window AS attendance
      ON attendance.person_id = chosen.person_id AND attendance.window_name = chosen.window_name
    JOIN windows AS term ON term.window_name = chosen.window_name
    WHERE attendance.possible > 0
)

SELECT
    person_id,
    'EDUCATION' AS agency,
    'child' AS entity_type,
    person_id AS entity_id,
    CASE WHEN missed * 100 >= $severe_absence_pct * possible THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    'Missed ' || missed || ' of ' || possible || ' possible sessions ('
        || printf('%.1f', 100.0 * missed / possible) || ' %, attendance ' || printf('%.1f', 100.0 - 100.0 * missed / possible)
        || ' %) from ' || strftime(window_start, '%Y-%m-%d') || ' to ' || strftime(window_end, '%Y-%m-%d')
        || CASE WHEN window_name = 'previous' THEN ' (previous academic year: fewer than ' || $min_possible_sessions
            || ' possible sessions so far this year)' ELSE '' END
        || CASE WHEN authorised IS NOT NULL AND unauthorised IS NOT NULL
            THEN ', ' || authorised || ' authorised and ' || unauthorised || ' unauthorised' ELSE '' END
        || CASE WHEN source = 'summaries' THEN ', from attendance summaries' ELSE '' END
        || ': ' || CASE WHEN missed * 100 >= $severe_absence_pct * possible
            THEN 'severe absence (' || $severe_absence_pct || ' % or more missed).'
            ELSE 'persistent absence (' || $persistent_absence_pct || ' % or more missed).' END AS detail,
    CASE WHEN source = 'sessions' THEN 'attendance_sessions' ELSE 'attendance_summaries' END
        || ' upn=' || upns || coalesce('; school_urn=' || school_urns, '')
        || '; ' || strftime(window_start, '%Y-%m-%d') || ' to ' || strftime(window_end, '%Y-%m-%d') AS locator,
    100.0 * missed / possible AS magnitude,
    $persistent_absence_pct AS threshold,
    '% of sessions missed' AS magnitude_unit
FROM attendance_in_window
WHERE missed * 100 >= $persistent_absence_pct * possible
