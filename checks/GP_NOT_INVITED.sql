-- GP_NOT_INVITED: a CIN_MEETING or CIN_REVIEW in the window (held, or scheduled and not
-- cancelled) with no GP invitation, for a child registered with a GP on the meeting date.
-- An invitation counts as the GP's when its invitee_role or its agency is GP.
WITH bounds AS (
    SELECT CAST($as_at AS DATE) AS window_end, window_start($as_at, $window_days) AS window_start
),

cin_at_as_at AS (
    SELECT DISTINCT person_id FROM cin_children($as_at)
),

cin_meetings_in_window AS (
    SELECT
        meeting.meeting_id,
        meeting.person_id,
        CAST(meeting.meeting_type AS VARCHAR) AS meeting_type,
        CAST(meeting.status AS VARCHAR) AS status,
        CASE WHEN meeting.status = 'HELD' THEN coalesce(meeting.held_date, meeting.scheduled_date)
            ELSE meeting.scheduled_date END AS meeting_date
    FROM meetings AS meeting
    JOIN cin_at_as_at AS cin ON cin.person_id = meeting.person_id
    WHERE meeting.meeting_type IN ('CIN_MEETING', 'CIN_REVIEW')
      AND meeting.status IN ('HELD', 'SCHEDULED')
),

gp_invitations AS (
    SELECT DISTINCT meeting_id
    FROM meeting_invitations
    WHERE invitee_role = 'GP' OR agency = 'GP'
),

registered_on_meeting_date AS (
    SELECT
        meeting.meeting_id,
        string_agg(DISTINCT registration.practice_code, ', ') AS practice_codes
    FROM cin_meetings_in_window AS meeting
    JOIN person_identifiers AS patient
      ON patient.person_id = meeting.person_id AND patient.identifier_type = 'NHS_NUMBER'
    JOIN gp_registrations AS registration
      ON registration.nhs_number = patient.identifier_value
     AND registration.registered_from <= meeting.meeting_date
     AND (registration.registered_to IS NULL OR registration.registered_to > meeting.meeting_date)
    GROUP BY meeting.meeting_id
)

SELECT
    meeting.person_id,
    'SOCIAL_CARE' AS agency,
    'meeting' AS entity_type,
    meeting.meeting_id AS entity_id,
    'MEDIUM' AS severity,
    'The ' || meeting.meeting_type || ' ' || CASE WHEN meeting.status = 'HELD' THEN 'held' ELSE 'scheduled' END
        || ' on ' || strftime(meeting.meeting_date, '%Y-%m-%d') || ' has no GP invitation although the child was registered with GP practice '
        || registered.practice_codes || ' on that date: invite the GP or record why not.' AS detail,
    'meetings.meeting_id=' || meeting.meeting_id || ' (' || meeting.meeting_type || ', '
        || lower(meeting.status) || ' ' || strftime(meeting.meeting_date, '%Y-%m-%d') || ')' AS locator
FROM cin_meetings_in_window AS meeting
CROSS JOIN bounds
JOIN registered_on_meeting_date AS registered ON registered.meeting_id = meeting.meeting_id
LEFT JOIN gp_invitations AS invited ON invited.meeting_id = meeting.meeting_id
WHERE meeting.meeting_date BETWEEN bounds.window_start AND bounds.window_end
  AND invited.meeting_id IS NULL
  AND NOT person_died_by(meeting.person_id, meeting.meeting_date)  -- no GP invitation after a death
