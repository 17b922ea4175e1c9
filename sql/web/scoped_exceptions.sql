-- The latest run's listed exceptions as one user may see them, with the effective review (the
-- newer of the store's and the workspace's) and the assignee. Bound: $scope_agency, $scope_org
-- (NULL for an officer), the filters ($check ... $q, NULL = any), $due_before (a first_seen on or
-- before it is overdue for review when still unreviewed); for "mine" / "my team": $me (the user
-- name), $my_professional, $my_professional_name, $my_teams (the linked worker, NULL / [] if none). Registered by the caller:
-- web_latest (exception_id, w_status, w_note, w_at, w_expires, w_reviewer),
-- web_assign (exception_id, assignee).
WITH scoped AS (
    SELECT
        e.*,
        w.exception_id IS NOT NULL AND (e.last_annotated_at IS NULL OR w.w_at > e.last_annotated_at) AS web_newer,
        w.w_status, w.w_note, w.w_at, w.w_expires, w.w_reviewer,
        a.assignee
    FROM web_exceptions AS e
    LEFT JOIN web_latest AS w ON w.exception_id = e.exception_id
    LEFT JOIN web_assign AS a ON a.exception_id = e.exception_id
    WHERE ($scope_agency IS NULL OR e.agency = $scope_agency)
      AND ($scope_org IS NULL OR e.organisation = $scope_org)
),
effective AS (
    SELECT
        scoped.*,
        CASE WHEN web_newer THEN
                 CASE WHEN w_expires IS NOT NULL AND as_at >= w_expires THEN 'UNREVIEWED' ELSE w_status END
             ELSE review_status END AS eff_review_status,
        CASE WHEN web_newer THEN w_note ELSE review_note END AS eff_review_note,
        CASE WHEN web_newer THEN w_at ELSE last_annotated_at END AS eff_reviewed_at,
        CASE WHEN $scope_agency IS NULL THEN detail ELSE agency_detail END AS shown_detail,
        CASE WHEN $scope_agency IS NULL THEN entity_id ELSE agency_entity_id END AS shown_entity_id,
        CASE WHEN $scope_agency IS NULL THEN locator ELSE agency_locator END AS shown_locator,
        -- the machine locator (record ids, sources, dates) the child page matches the records that fired on
        CASE WHEN $scope_agency IS NULL THEN source_locator ELSE agency_locator END AS fired_locator
    FROM scoped
)
SELECT
    effective.*,
    eff_review_status = 'UNREVIEWED' AND first_seen <= $due_before AS overdue
FROM effective
WHERE ($check IS NULL OR check_id = $check)
  AND ($agency IS NULL OR agency = $agency)
  AND ($org IS NULL OR organisation = $org)
  AND ($severity IS NULL OR severity = $severity)
  AND ($status IS NULL OR status = $status)
  AND ($review IS NULL OR eff_review_status = $review)
  AND ($assignee IS NULL OR coalesce(assignee, '') = $assignee)
  AND ($person IS NULL OR person_id = $person)
  AND ($overdue IS NULL OR (eff_review_status = 'UNREVIEWED' AND first_seen <= $due_before) = $overdue)
  -- mine: assigned to me, or owned by my linked worker (by id; by name where a row names no id)
  AND ($mine IS NULL OR $mine = (
          coalesce(assignee = $me, false)
          OR coalesce(owner_professional_id = $my_professional, false)
          OR coalesce(owner_professional_id IS NULL AND owner_name = $my_professional_name, false)))
  AND ($team IS NULL OR $team = coalesce(list_contains(CAST($my_teams AS VARCHAR[]), owner_team), false))
  AND ($no_org IS NULL OR no_organisation = $no_org)
  AND ($q IS NULL
       OR contains(lower(exception_id), lower($q))
       OR contains(lower(coalesce(CASE WHEN $scope_agency IS NULL OR agency IN ('SOCIAL_CARE', 'EDUCATION') THEN person_id END, '')), lower($q))
       OR contains(lower(coalesce(agency_record_ids, '')), lower($q))
       OR contains(lower(coalesce(shown_entity_id, '')), lower($q))
       OR contains(lower(coalesce(shown_detail, '')), lower($q))
       OR contains(lower(coalesce(eff_review_note, '')), lower($q)))
