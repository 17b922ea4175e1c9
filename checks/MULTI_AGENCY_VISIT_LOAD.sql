-- MULTI_AGENCY_VISIT_LOAD: in an ISO week (Monday to Sunday) of the window, a CiN child's family
-- had at least the minimum number of HOME_VISIT contacts, by at least the minimum number of
-- agencies, and none of that week's home visits was joint. Only visits inside the window count,
-- so a week cut by the window's start counts its days in the window only.
-- One row per child and ISO week, owned by SOCIAL_CARE (who coordinates the plan).
WITH window_bounds AS (
    SELECT window_start($as_at, $window_days) AS window_start,
           CAST($as_at AS DATE) AS window_end
),

home_visits_in_window AS (
    SELECT
        contact.person_id,
        contact.contact_id,
        contact.agency,
        contact.contact_date,
        contact.joint_with_agency IS NOT NULL AS is_joint,
        -- ISO year and week as one integer key (e.g. 202647); formatted as 2026-W47 at the end.
        isoyear(contact.contact_date) * 100 + week(contact.contact_date) AS week_key
    FROM family_contacts AS contact
    JOIN cin_children($as_at) AS cin ON cin.person_id = contact.person_id
    CROSS JOIN window_bounds AS w
    WHERE contact.contact_type = 'HOME_VISIT'
      AND contact.contact_date BETWEEN w.window_start AND w.window_end
),

-- Counts per agency first, so the weekly totals need no DISTINCT or ordered aggregate (a large
-- authority holds millions of contacts).
weekly_agency_visits AS (
    SELECT
        person_id,
        week_key,
        agency,
        count(*) AS home_visits,
        count(*) FILTER (WHERE is_joint) AS joint_visits
    FROM home_visits_in_window
    GROUP BY person_id, week_key, agency
),

overloaded_weeks AS (
    SELECT
        person_id,
        week_key,
        sum(home_visits) AS home_visits,
        count(*) AS visiting_agencies
    FROM weekly_agency_visits
    GROUP BY person_id, week_key
    HAVING sum(home_visits) >= $min_home_visits
       AND count(*) >= $min_agencies
       AND sum(joint_visits) = 0
),

-- Dates, agencies and contact ids only for the weeks that fire.
overloaded_week_visits AS (
    SELECT
        week.person_id,
        week.week_key,
        list_sort(list(DISTINCT CAST(visit.agency AS VARCHAR))) AS agencies,
        min(visit.contact_date) AS first_visit,
        max(visit.contact_date) AS last_visit,
        list_transform(list_sort(list({'day': visit.contact_date, 'id': visit.contact_id})), lambda v: v.id) AS contact_ids
    FROM overloaded_weeks AS week
    JOIN home_visits_in_window AS visit
      ON visit.person_id = week.person_id AND visit.week_key = week.week_key
    GROUP BY week.person_id, week.week_key
)

SELECT
    week.person_id,
    'SOCIAL_CARE' AS agency,
    'child_week' AS entity_type,
    strftime(visits.first_visit, '%G-W%V') AS entity_id,
    'LOW' AS severity,
    'The family had ' || week.home_visits || ' separate home visits by ' || week.visiting_agencies || ' agencies ('
        || array_to_string(visits.agencies, ', ') || ') in week ' || strftime(visits.first_visit, '%G-W%V')
        || ', between ' || strftime(visits.first_visit, '%Y-%m-%d') || ' and '
        || strftime(visits.last_visit, '%Y-%m-%d') || ', none of them joint: consider joint visits.' AS detail,
    'ssd_person.pers_person_id=' || week.person_id || '; ISO week ' || strftime(visits.first_visit, '%G-W%V')
        || '; family_contacts.contact_id=' || array_to_string(visits.contact_ids, ', ') AS locator
FROM overloaded_weeks AS week
JOIN overloaded_week_visits AS visits ON visits.person_id = week.person_id AND visits.week_key = week.week_key
