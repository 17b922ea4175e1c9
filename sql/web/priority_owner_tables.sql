-- The ONE place the workspace reads issue 25's priority and owner data from the store (run by the
-- nightly's snapshot publish, before snapshot_tables.sql; the snapshot is attached as web_snapshot).
--
-- Expected from the nightly's outputs (docs/OUTPUTS.md), by these names:
--   on every exception row (exception_history, so exceptions_listed):
--     priority (number, higher = act sooner), priority_reason (one line), owner_name, owner_team,
--     owner_professional_id (the allocated worker's id), central_queue_reason (why a partner row has
--     no organisation and went to its agency's central queue);
--   the table child_priority (run_id, person_id, priority, priority_reason): one score per child;
--   the SSD's team columns: ssd_involvements.invo_professional_team and
--     ssd_professionals.prof_professional_department (SSD v1.4 names).
-- The nightly's own columns and table are read directly, so a rename fails the publish loudly. Only
-- the SSD's team columns, which a delivery may or may not carry, are read as NULL when absent
-- (UNION ALL BY NAME with a typed row-less SELECT). Ties in priority fall to severity, NEW first,
-- first seen, check, id: a deterministic order.

-- Per listed exception of the latest run: its priority, owners and its place in the priority order
-- (1 = first; ascending sort on priority_order is "most urgent first", so a descending sort is its
-- exact reverse).
CREATE TABLE web_snapshot.web_exception_priority AS
WITH latest_run AS (
    SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1
),
listed_rows AS (
    SELECT * FROM exception_history
    WHERE run_id = (SELECT run_id FROM latest_run) AND status IN ('NEW', 'OPEN')
)
SELECT
    exception_id,
    TRY_CAST(priority AS DOUBLE) AS priority,
    CAST(priority_reason AS VARCHAR) AS priority_reason,
    CAST(owner_name AS VARCHAR) AS owner_name,
    CAST(owner_team AS VARCHAR) AS owner_team,
    CAST(owner_professional_id AS VARCHAR) AS owner_professional_id,
    CAST(central_queue_reason AS VARCHAR) AS central_queue_reason,
    row_number() OVER (
        ORDER BY TRY_CAST(priority AS DOUBLE) DESC NULLS LAST,
                 severity_rank(severity),
                 CASE status WHEN 'NEW' THEN 0 ELSE 1 END, first_seen, check_id, exception_id
    ) AS priority_order
FROM listed_rows;

-- Per child with a listed exception: the child's priority (the store's score; else the highest of its
-- rows) and its place in the order of children (1 = act first), ties broken by the child's most
-- urgent row, then how many concerns, then the id.
CREATE TABLE web_snapshot.web_children AS
WITH latest_run AS (
    SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1
),
store_scores AS (
    SELECT CAST(person_id AS VARCHAR) AS person_id, max(TRY_CAST(priority AS DOUBLE)) AS priority,
           arg_max(CAST(priority_reason AS VARCHAR), TRY_CAST(priority AS DOUBLE)) AS priority_reason
    FROM web_snapshot.child_priority
    WHERE run_id IS NULL OR CAST(run_id AS VARCHAR) = (SELECT run_id FROM latest_run)
    GROUP BY ALL
),
child_rows AS (
    SELECT history.person_id, max(scores.priority) AS top_row_priority, min(scores.priority_order) AS first_row_order,
           count(*) AS open_concerns, count(DISTINCT history.agency) AS agencies
    FROM exception_history AS history
    JOIN web_snapshot.web_exception_priority AS scores ON scores.exception_id = history.exception_id
    WHERE history.run_id = (SELECT run_id FROM latest_run) AND history.status IN ('NEW', 'OPEN')
      AND history.person_id IS NOT NULL
    GROUP BY history.person_id
)
SELECT
    child_rows.person_id,
    coalesce(store_scores.priority, child_rows.top_row_priority) AS child_priority,
    store_scores.priority_reason AS child_priority_reason,
    child_rows.open_concerns,
    child_rows.agencies,
    row_number() OVER (
        ORDER BY coalesce(store_scores.priority, child_rows.top_row_priority) DESC NULLS LAST,
                 child_rows.first_row_order, child_rows.open_concerns DESC, child_rows.person_id
    ) AS child_order
FROM child_rows
LEFT JOIN store_scores ON store_scores.person_id = child_rows.person_id;

-- Each professional's name and teams at the latest as-at date: the teams of their open involvements
-- and their department; "my team" on the Exceptions page matches owner_team against these.
CREATE TABLE web_snapshot.web_professional_teams AS
WITH latest_as_at AS (
    SELECT as_at FROM lifecycle_runs ORDER BY seq DESC LIMIT 1
),
involvements AS (
    SELECT * FROM ssd_involvements
    UNION ALL BY NAME
    SELECT CAST(NULL AS VARCHAR) AS invo_professional_team WHERE false
),
professionals AS (
    SELECT * FROM ssd_professionals
    UNION ALL BY NAME
    SELECT CAST(NULL AS VARCHAR) AS prof_professional_department WHERE false
),
teams AS (
    SELECT invo_professional_id AS professional_id, CAST(invo_professional_team AS VARCHAR) AS team
    FROM involvements
    WHERE invo_involvement_start_date <= (SELECT as_at FROM latest_as_at)
      AND (invo_involvement_end_date IS NULL OR invo_involvement_end_date > (SELECT as_at FROM latest_as_at))
    UNION
    SELECT prof_professional_id, CAST(prof_professional_department AS VARCHAR) FROM professionals
)
SELECT professionals.prof_professional_id AS professional_id,
       any_value(professionals.prof_professional_name) AS professional_name,
       list_sort(list_distinct(list(teams.team) FILTER (WHERE teams.team IS NOT NULL))) AS teams
FROM professionals
LEFT JOIN teams ON teams.professional_id = professionals.prof_professional_id
GROUP BY professionals.prof_professional_id;
