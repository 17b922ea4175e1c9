-- Run $run_id's listed (NEW / OPEN) exceptions with their review, in file order: priority first
-- (sql/outputs/triage.sql), ties by severity and stable keys. Detail and locator in plain words;
-- reviewer (of the latest review, when made in the web workspace) and assignee (the latest
-- assignment carried from the workspace).
WITH listed AS (
    SELECT * REPLACE (plain_detail AS detail, plain_locator AS locator)
    FROM exceptions_listed
    WHERE run_id = $run_id
),
reviewers AS (
    SELECT carried.exception_id, arg_max(carried.reviewer, carried.web_review_id) AS reviewer
    FROM web_reviews_carried AS carried
    JOIN listed ON listed.exception_id = carried.exception_id AND listed.last_annotated_at = carried.annotated_at
    GROUP BY carried.exception_id
),
assignees AS (
    SELECT exception_id, arg_max(assignee, web_assignment_id) AS assignee
    FROM web_assignments_carried
    GROUP BY exception_id
)
SELECT listed.*,
       coalesce(reviewers.reviewer, CASE WHEN listed.last_annotated_at IS NOT NULL THEN 'workbook import' END) AS reviewer,
       assignees.assignee
FROM listed
LEFT JOIN reviewers ON reviewers.exception_id = listed.exception_id
LEFT JOIN assignees ON assignees.exception_id = listed.exception_id
ORDER BY listed.priority DESC, severity_rank(listed.severity),
         listed.check_id, listed.agency, listed.person_id NULLS LAST, listed.entity_type, listed.entity_id,
         listed.exception_id
