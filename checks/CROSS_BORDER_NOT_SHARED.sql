-- CROSS_BORDER_NOT_SHARED (regional store): a child open as CiN in one authority, known to
-- another authority's social care or education, which holds no CiN plan or CIN flag for them.
-- Routed to both authorities: entity_id = '<LA code>/<local id>' of each side.
WITH home_cin AS (
    SELECT la_code, local_id, cin_since
    FROM region_people
    WHERE source = 'SOCIAL_CARE' AND cin_open
      AND cin_since <= CAST($as_at AS DATE) - CAST($min_days_open AS INTEGER)
),
pairs AS (
    SELECT home.la_code AS home_la, home.local_id AS home_id, home.cin_since,
           other.la_code AS other_la, other.local_id AS other_id, other.source AS other_source,
           other.person_id AS other_person_id, other.cin_known, link.method
    FROM home_cin AS home
    JOIN region_links AS link ON link.home_la = home.la_code AND link.home_person_id = home.local_id
    JOIN region_people AS other ON other.la_code = link.other_la AND other.local_id = link.other_local_id
    WHERE other.la_code <> home.la_code
),
unaware AS (
    -- Other authorities none of whose linked records knows the child is in need.
    SELECT * FROM pairs
    WHERE (home_la, home_id, other_la) NOT IN (
        SELECT home_la, home_id, other_la FROM pairs WHERE cin_known
    )
)
SELECT
    home_id AS person_id,
    'SOCIAL_CARE' AS agency,
    'cross_border_child' AS entity_type,
    home_la || '/' || home_id AS entity_id,
    'HIGH' AS severity,
    'Child in need here since ' || strftime(min(cin_since), '%Y-%m-%d') || '; known to '
        || string_agg(DISTINCT other_la || ' ' || lower(other_source), ', ' ORDER BY other_la || ' ' || lower(other_source))
        || ', which holds no CiN plan or CIN flag: share the plan across the border.' AS detail,
    'region_links home ' || home_la || '/' || home_id || ' -> '
        || string_agg(DISTINCT other_la || '/' || other_id || ' (' || method || ')', ', ' ORDER BY other_la || '/' || other_id || ' (' || method || ')') AS locator
FROM unaware
GROUP BY home_la, home_id
UNION ALL
SELECT
    other_person_id AS person_id,
    other_source AS agency,
    'cross_border_child' AS entity_type,
    other_la || '/' || other_id AS entity_id,
    'HIGH' AS severity,
    'Child in need in authority ' || home_la || ' since ' || strftime(cin_since, '%Y-%m-%d')
        || '; this authority holds no CiN plan or CIN flag for them: record it and agree who leads.' AS detail,
    'region_links home ' || home_la || '/' || home_id || ' -> ' || other_la || '/' || other_id || ' (' || method || ')' AS locator
FROM unaware
