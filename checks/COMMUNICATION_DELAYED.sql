-- COMMUNICATION_DELAYED: minutes or information shared later than the limit.
-- Meetings: a CIN_MEETING, CIN_REVIEW, ICPC, CP_REVIEW or CORE_GROUP held in the window whose
-- minutes were shared after the limit_working_days-th working day after it was held, or not
-- shared by D once that day has passed (owner SOCIAL_CARE). Shares: an information_sharing row
-- of topic MEETING_MINUTES, PLAN, SOCIAL_WORKER_CHANGE or OTHER with its event in the window,
-- shared after the limit (owner: the sharing agency).
WITH bounds AS (
    SELECT CAST($as_at AS DATE) AS window_end, window_start($as_at, $window_days) AS window_start
),

cin_at_as_at AS (
    SELECT DISTINCT person_id FROM cin_children($as_at)
),

meetings_held_in_window AS (
    SELECT
        meeting.meeting_id,
        meeting.person_id,
        CAST(meeting.meeting_type AS VARCHAR) AS meeting_type,
        meeting_held_on(meeting.status, meeting.held_date, meeting.scheduled_date) AS held_on,
        -- Minutes dated after D were not shared as at D.
        CASE WHEN meeting.minutes_shared_date <= CAST($as_at AS DATE) THEN meeting.minutes_shared_date END AS shared_on
    FROM meetings AS meeting
    JOIN cin_at_as_at AS cin ON cin.person_id = meeting.person_id
    CROSS JOIN bounds
    WHERE meeting.meeting_type IN ('CIN_MEETING', 'CIN_REVIEW', 'ICPC', 'CP_REVIEW', 'CORE_GROUP')
      AND meeting_held_on(meeting.status, meeting.held_date, meeting.scheduled_date)
          BETWEEN bounds.window_start AND bounds.window_end
),

meeting_deadlines AS (
    SELECT *, add_working_days(held_on, $limit_working_days) AS share_by
    FROM meetings_held_in_window
),

late_meeting_minutes AS (
    SELECT
        person_id,
        'SOCIAL_CARE' AS agency,
        'meeting' AS entity_type,
        meeting_id AS entity_id,
        CASE
            WHEN shared_on IS NULL THEN
                'Minutes of the ' || meeting_type || ' held on ' || strftime(held_on, '%Y-%m-%d')
                || ' had not been shared by ' || strftime($as_at, '%Y-%m-%d') || ', '
                || working_days_between(held_on, $as_at) || ' working days after the meeting (limit '
                || $limit_working_days || ' working days, i.e. by ' || strftime(share_by, '%Y-%m-%d') || '): share the minutes.'
            ELSE
                'Minutes of the ' || meeting_type || ' held on ' || strftime(held_on, '%Y-%m-%d')
                || ' were shared on ' || strftime(shared_on, '%Y-%m-%d') || ', '
                || working_days_between(held_on, shared_on) || ' working days after the meeting (limit '
                || $limit_working_days || ' working days, i.e. by ' || strftime(share_by, '%Y-%m-%d') || ').'
        END AS detail,
        'meetings.meeting_id=' || meeting_id || ' (' || meeting_type || ', held ' || strftime(held_on, '%Y-%m-%d') || ')' AS locator,
        working_days_between(held_on, coalesce(shared_on, CAST($as_at AS DATE))) AS magnitude,
        $limit_working_days AS threshold,
        'working days' AS magnitude_unit
    FROM meeting_deadlines
    WHERE (shared_on IS NULL AND CAST($as_at AS DATE) > share_by)
       OR shared_on > share_by
),

late_shares AS (
    SELECT
        share.person_id,
        CAST(share.from_agency AS VARCHAR) AS agency,
        'information_share' AS entity_type,
        share.share_id AS entity_id,
        'The ' || CAST(share.topic AS VARCHAR) || ' share to ' || CAST(share.to_agency AS VARCHAR)
            || ' about an event on ' || strftime(share.event_date, '%Y-%m-%d') || ' was made on '
            || strftime(share.shared_date, '%Y-%m-%d') || ', ' || working_days_between(share.event_date, share.shared_date)
            || ' working days after the event (limit ' || $limit_working_days || ' working days, i.e. by '
            || strftime(add_working_days(share.event_date, $limit_working_days), '%Y-%m-%d') || ').' AS detail,
        'information_sharing.share_id=' || share.share_id || ' (event ' || strftime(share.event_date, '%Y-%m-%d')
            || ', shared ' || strftime(share.shared_date, '%Y-%m-%d') || ')' AS locator,
        working_days_between(share.event_date, share.shared_date) AS magnitude,
        $limit_working_days AS threshold,
        'working days' AS magnitude_unit
    FROM information_sharing AS share
    JOIN cin_at_as_at AS cin ON cin.person_id = share.person_id
    CROSS JOIN bounds
    WHERE share.topic IN ('MEETING_MINUTES', 'PLAN', 'SOCIAL_WORKER_CHANGE', 'OTHER')
      AND share.event_date BETWEEN bounds.window_start AND bounds.window_end
      AND share.shared_date <= CAST($as_at AS DATE)
      AND share.shared_date > add_working_days(share.event_date, $limit_working_days)
)

SELECT person_id, agency, entity_type, entity_id, 'MEDIUM' AS severity, detail, locator, magnitude, threshold, magnitude_unit
FROM late_meeting_minutes
UNION ALL
SELECT person_id, agency, entity_type, entity_id, 'MEDIUM' AS severity, detail, locator, magnitude, threshold, magnitude_unit
FROM late_shares
