-- Tables the nightly adds to the web snapshot (attached as web_snapshot) after copying the store.
-- The latest run's listed exceptions with the store's effective review and who owns each row.
CREATE TABLE web_snapshot.web_exceptions AS
SELECT
    listed.exception_id, listed.check_id, listed.concern, listed.severity, listed.person_id, listed.agency,
    listed.entity_type, listed.entity_id,
    -- what people read: the detail and locator in plain words (source_locator: the machine's)
    listed.plain_detail AS detail, listed.plain_locator AS locator, listed.locator AS source_locator,
    listed.first_seen, listed.status,
    listed.review_status, listed.review_note, listed.last_review_status, listed.last_annotated_at,
    listed.review_expires_on, listed.review_expired, listed.as_at, listed.evaluated_as_at, listed.run_id,
    rows.organisation_type, rows.organisation, rows.agency_record_ids, rows.agency_nhs_number, rows.agency_upn,
    coalesce(rows.agency_detail, listed.detail) AS agency_detail,
    coalesce(rows.agency_locator, listed.locator) AS agency_locator,
    coalesce(rows.agency_entity_id, listed.entity_id) AS agency_entity_id,
    severity_rank(listed.severity) AS severity_rank,
    CASE listed.status WHEN 'NEW' THEN 0 ELSE 1 END AS status_rank,
    -- priority and owners (read in priority_owner_tables.sql, the one place naming them)
    scores.priority, scores.priority_reason, scores.owner_name, scores.owner_team, scores.owner_professional_id,
    scores.central_queue_reason, scores.priority_order, listed.social_worker_name, listed.social_worker_team,
    -- a school or GP row no school or practice sees (its agency's central queue)
    listed.agency IN ('GP', 'EDUCATION') AND rows.organisation IS NULL AS no_organisation
FROM exceptions_listed AS listed
LEFT JOIN exception_agency_rows AS rows ON rows.run_id = listed.run_id AND rows.exception_id = listed.exception_id
LEFT JOIN web_snapshot.web_exception_priority AS scores ON scores.exception_id = listed.exception_id
WHERE listed.run_id = (SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1);
CREATE TABLE web_snapshot.snapshot_info AS
SELECT
    $published_at AS published_at,
    (SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1) AS run_id,
    (SELECT as_at FROM lifecycle_runs ORDER BY seq DESC LIMIT 1) AS as_at,
    (SELECT previous_run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1) AS previous_run_id;
