-- CIN_REVIEW_OVERDUE: an open CIN plan whose next review is overdue. The review is due
-- review_interval_weeks after the latest CIN_REVIEW or CIN_MEETING held since the plan started
-- (or after the start when none was held). The interval is the N days up to and including D
-- (the catalogue's window convention), so a review exactly 12 weeks before D is outside it:
-- the plan is overdue on the due date itself.
WITH plans_at_as_at AS (
    SELECT plan_id, person_id, plan_start_date FROM open_cin_plans($as_at)
),

latest_review_held AS (
    SELECT
        plan.plan_id,
        max(meeting_held_on(meeting.status, meeting.held_date, meeting.scheduled_date)) AS last_reviewed_on,
        arg_max(meeting.meeting_id, meeting_held_on(meeting.status, meeting.held_date, meeting.scheduled_date)) AS last_meeting_id
    FROM plans_at_as_at AS plan
    JOIN meetings AS meeting
      ON meeting.person_id = plan.person_id
     AND meeting.meeting_type IN ('CIN_REVIEW', 'CIN_MEETING')
     AND meeting_held_on(meeting.status, meeting.held_date, meeting.scheduled_date)
         BETWEEN plan.plan_start_date AND CAST($as_at AS DATE)
    GROUP BY plan.plan_id
),

review_due AS (
    SELECT
        plan.plan_id,
        plan.person_id,
        plan.plan_start_date,
        review.last_reviewed_on,
        review.last_meeting_id,
        CAST(coalesce(review.last_reviewed_on, plan.plan_start_date) + to_weeks(CAST($review_interval_weeks AS INTEGER)) AS DATE) AS due_on,
        CAST($as_at AS DATE) - coalesce(review.last_reviewed_on, plan.plan_start_date) AS days_since
    FROM plans_at_as_at AS plan
    LEFT JOIN latest_review_held AS review ON review.plan_id = plan.plan_id
)

SELECT
    person_id,
    'SOCIAL_CARE' AS agency,
    'cin_plan' AS entity_type,
    plan_id AS entity_id,
    CASE WHEN days_since > 2 * 7 * $review_interval_weeks THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    'CIN plan ' || plan_id || ', open since ' || strftime(plan_start_date, '%Y-%m-%d') || ', '
        || CASE
            WHEN last_reviewed_on IS NULL THEN 'has had no CIN review or meeting held since it started'
            ELSE 'was last reviewed on ' || strftime(last_reviewed_on, '%Y-%m-%d')
        END
        || ' (' || days_since || ' days before ' || strftime($as_at, '%Y-%m-%d') || '); a review was due by '
        || strftime(due_on, '%Y-%m-%d') || ' (every ' || $review_interval_weeks || ' weeks): hold or record the review.' AS detail,
    'ssd_cin_plans.cinp_cin_plan_id=' || plan_id || ' (start ' || strftime(plan_start_date, '%Y-%m-%d') || ')'
        || CASE WHEN last_meeting_id IS NOT NULL
            THEN '; meetings.meeting_id=' || last_meeting_id || ' (held ' || strftime(last_reviewed_on, '%Y-%m-%d') || ')'
            ELSE '' END AS locator,
    days_since AS magnitude,
    7 * $review_interval_weeks AS threshold,
    'days since the last review' AS magnitude_unit
FROM review_due
WHERE due_on <= CAST($as_at AS DATE)
