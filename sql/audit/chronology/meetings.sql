-- Chronology events from meetings (reads: meetings, meeting_invitations).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
WITH child_meetings AS (
    SELECT * FROM meetings WHERE person_id = $person_id
),
invitation_lists AS (
    SELECT invitation.meeting_id,
           string_agg(concat(CAST(invitation.invitee_role AS VARCHAR),
                             coalesce(' (' || CAST(invitation.agency AS VARCHAR) || ')', ''), ': ',
                             CASE WHEN invitation.attended THEN 'attended'
                                  WHEN NOT invitation.attended THEN 'did not attend'
                                  ELSE 'attendance not recorded' END),
                      '; ' ORDER BY CAST(invitation.invitee_role AS VARCHAR),
                                    CAST(invitation.agency AS VARCHAR)) AS invited
    FROM meeting_invitations AS invitation
    WHERE invitation.meeting_id IN (SELECT meeting_id FROM child_meetings)
    GROUP BY invitation.meeting_id
)
SELECT CASE meeting.status WHEN 'HELD' THEN coalesce(meeting.held_date, meeting.scheduled_date)
                           WHEN 'CANCELLED' THEN coalesce(meeting.cancelled_date, meeting.scheduled_date)
                           ELSE meeting.scheduled_date END,
       CASE WHEN meeting.meeting_type = 'EHCP_ANNUAL_REVIEW' THEN 'EDUCATION' ELSE 'SOCIAL_CARE' END,
       CASE WHEN invitation_lists.invited IS NULL THEN 'meetings' ELSE 'meetings + meeting_invitations' END,
       concat(CAST(meeting.meeting_type AS VARCHAR), ' ', lower(CAST(meeting.status AS VARCHAR))),
       concat('Meeting ', meeting.meeting_id, ' (scheduled ', CAST(meeting.scheduled_date AS VARCHAR), ')',
              CASE WHEN meeting.status = 'HELD'
                   THEN concat('; child attended: ', CASE WHEN meeting.child_attended THEN 'yes' WHEN NOT meeting.child_attended THEN 'no' ELSE 'not recorded' END,
                               '; minutes shared: ', coalesce(CAST(meeting.minutes_shared_date AS VARCHAR), 'not recorded'))
                   ELSE '' END,
              '; invited: ', coalesce(invitation_lists.invited, 'no invitations recorded')),
       meeting.meeting_id
FROM child_meetings AS meeting
LEFT JOIN invitation_lists USING (meeting_id)
