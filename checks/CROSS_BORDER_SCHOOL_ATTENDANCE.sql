-- CROSS_BORDER_SCHOOL_ATTENDANCE (regional store): a child living in one authority and on the
-- roll of a school in another, whose persistent absence shows in only one authority's data.
-- Routed to both authorities: entity_id = '<LA code>/<local id>' of each side.
WITH pairs AS (
    SELECT home.la_code AS home_la, home.local_id AS home_id,
           coalesce(home.possible_sessions, 0) AS home_possible, coalesce(home.missed_sessions, 0) AS home_missed,
           school.la_code AS school_la, school.local_id AS school_id, school.person_id AS school_person_id,
           school.possible_sessions AS school_possible, school.missed_sessions AS school_missed, link.method
    FROM region_people AS home
    JOIN region_links AS link ON link.home_la = home.la_code AND link.home_person_id = home.local_id
    JOIN region_people AS school ON school.la_code = link.other_la AND school.local_id = link.other_local_id
    WHERE home.source = 'SOCIAL_CARE' AND school.source = 'EDUCATION' AND school.la_code <> home.la_code
      AND school.possible_sessions > 0
),
judged AS (
    SELECT *,
           home_possible > 0 AND home_missed * 100 >= $persistent_absence_pct * home_possible AS home_concern,
           school_missed * 100 >= $persistent_absence_pct * school_possible AS school_concern,
           school_missed * 100 >= $severe_absence_pct * school_possible AS school_severe
    FROM pairs
),
one_sided AS (
    SELECT * FROM judged WHERE home_concern <> school_concern
)
SELECT
    home_id AS person_id,
    'SOCIAL_CARE' AS agency,
    'cross_border_child' AS entity_type,
    home_la || '/' || home_id AS entity_id,
    CASE WHEN bool_or(school_severe) THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    'Attends school over the border in ' || string_agg(DISTINCT school_la, ', ' ORDER BY school_la) || ': '
        || string_agg(DISTINCT CASE WHEN school_concern
            THEN 'the school''s authority sees ' || school_missed || ' of ' || school_possible || ' sessions missed this year, not known here'
            ELSE 'this authority sees ' || home_missed || ' of ' || home_possible || ' sessions missed this year, the school''s authority does not' END, '; ')
        || '.' AS detail,
    'region_links home ' || home_la || '/' || home_id || ' -> '
        || string_agg(DISTINCT school_la || '/' || school_id || ' (' || method || ')', ', ' ORDER BY school_la || '/' || school_id || ' (' || method || ')') AS locator
FROM one_sided
GROUP BY home_la, home_id
UNION ALL
SELECT
    school_person_id AS person_id,
    'EDUCATION' AS agency,
    'cross_border_child' AS entity_type,
    school_la || '/' || school_id AS entity_id,
    CASE WHEN school_severe THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    'Pupil living in authority ' || home_la || ': '
        || CASE WHEN school_concern
            THEN school_missed || ' of ' || school_possible || ' sessions missed this year here; the home authority''s data shows no attendance concern: tell it.'
            ELSE 'the home authority sees ' || home_missed || ' of ' || home_possible || ' sessions missed this year; this authority''s data does not.' END AS detail,
    'region_links home ' || home_la || '/' || home_id || ' -> ' || school_la || '/' || school_id || ' (' || method || ')' AS locator
FROM one_sided
