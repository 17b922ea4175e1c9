-- Consumer views over the lifecycle (docs/OUTPUTS.md).
CREATE OR REPLACE VIEW annotations_latest AS
SELECT *
FROM annotations
QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY annotated_at DESC, import_seq DESC) = 1;

CREATE OR REPLACE VIEW exceptions_listed AS
WITH listed_history AS (
    -- priority and owners come from exception_triage below (the same values the triage also sets
    -- on exception_history)
    SELECT * EXCLUDE (priority, priority_reason, owner_name, owner_team, owner_professional_id, central_queue_reason)
    FROM exception_history WHERE status IN ('NEW', 'OPEN')
)
SELECT
    listed_history.*,
    CASE
        WHEN latest.exception_id IS NULL THEN 'UNREVIEWED'
        WHEN latest.expires_on IS NOT NULL AND listed_history.as_at >= latest.expires_on THEN 'UNREVIEWED'
        ELSE latest.review_status
    END AS review_status,
    latest.review_note,
    latest.review_status AS last_review_status,
    latest.annotated_at AS last_annotated_at,
    latest.expires_on AS review_expires_on,
    coalesce(latest.expires_on IS NOT NULL AND listed_history.as_at >= latest.expires_on, FALSE) AS review_expired,
    -- priority and owners (sql/outputs/triage.sql); the plain-words locator and detail are what
    -- people read, the machine locator stays in `locator`
    coalesce(triage.priority, 0) AS priority,
    triage.priority_reason,
    triage.owner_name,
    triage.owner_team,
    triage.owner_professional_id,
    triage.organisation,
    triage.central_queue_reason,
    triage.central_queue_reason IS NOT NULL AS no_organisation,
    triage.social_worker_name,
    triage.social_worker_team,
    coalesce(triage.plain_locator, listed_history.locator) AS plain_locator,
    coalesce(triage.plain_detail, listed_history.detail) AS plain_detail
FROM listed_history
LEFT JOIN annotations_latest AS latest ON latest.exception_id = listed_history.exception_id
LEFT JOIN exception_triage AS triage
  ON triage.run_id = listed_history.run_id AND triage.exception_id = listed_history.exception_id;

CREATE OR REPLACE VIEW exceptions_current AS
SELECT exception_id, check_id, concern, severity, person_id, agency, entity_type, entity_id, detail,
       locator, first_seen, status, review_status, review_note, as_at,
       priority, priority_reason, owner_name, owner_team, central_queue_reason
FROM exceptions_listed
WHERE run_id = (SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1);

CREATE OR REPLACE VIEW exception_status AS
WITH history_in_order AS (
    SELECT history.*, lifecycle_runs.seq
    FROM exception_history AS history
    JOIN lifecycle_runs ON lifecycle_runs.run_id = history.run_id
),
latest_state AS (
    SELECT * FROM history_in_order
    QUALIFY row_number() OVER (PARTITION BY exception_id ORDER BY seq DESC) = 1
),
last_raised AS (
    SELECT exception_id, max(evaluated_as_at) FILTER (WHERE status IN ('NEW', 'OPEN')) AS last_seen
    FROM history_in_order
    GROUP BY exception_id
)
SELECT
    latest_state.exception_id, latest_state.check_id, latest_state.concern, latest_state.severity,
    latest_state.person_id, latest_state.agency, latest_state.entity_type, latest_state.entity_id,
    latest_state.detail, latest_state.locator, latest_state.first_seen, last_raised.last_seen,
    latest_state.status,
    CASE WHEN latest_state.status = 'RESOLVED' THEN latest_state.as_at END AS resolved_on,
    latest_state.run_id AS last_run_id
FROM latest_state
JOIN last_raised ON last_raised.exception_id = latest_state.exception_id;

CREATE OR REPLACE VIEW run_history AS
WITH counts_by_run AS (
    SELECT
        run_id,
        count(*) FILTER (WHERE status = 'NEW') AS new,
        count(*) FILTER (WHERE status = 'OPEN') AS open,
        count(*) FILTER (WHERE status = 'RESOLVED') AS resolved
    FROM exception_history
    GROUP BY run_id
)
SELECT
    coalesce(runs.run_id, lifecycle_runs.run_id) AS run_id,
    coalesce(runs.as_at, lifecycle_runs.as_at) AS as_at,
    runs.started_at,
    runs.finished_at,
    runs.status,
    CASE WHEN lifecycle_runs.run_id IS NOT NULL THEN coalesce(counts_by_run.new, 0) END AS new,
    CASE WHEN lifecycle_runs.run_id IS NOT NULL THEN coalesce(counts_by_run.open, 0) END AS open,
    CASE WHEN lifecycle_runs.run_id IS NOT NULL THEN coalesce(counts_by_run.resolved, 0) END AS resolved,
    lifecycle_runs.seq AS lifecycle_seq
FROM runs
FULL OUTER JOIN lifecycle_runs ON lifecycle_runs.run_id = runs.run_id
LEFT JOIN counts_by_run ON counts_by_run.run_id = coalesce(runs.run_id, lifecycle_runs.run_id);
