-- ICPC_CANCELLATION_NOT_COMMUNICATED: for a CiN child, an ICPC was cancelled, or a S47 enquiry
-- ended with no further action (NFA), and a partner agency involved in it was not sent an
-- ICPC_CANCELLED or S47_OUTCOME share by SOCIAL_CARE within the limit. Involved: invited to that
-- ICPC; for a S47 ended NFA, invited to a child's strategy meeting dated (held date when held,
-- else scheduled date; a cancelled one still told the invitee of the concern) in the lookback
-- days up to the S47 start. Partner: any agency but SOCIAL_CARE
-- (family invitees carry no agency). Raised once the limit has passed, for events in the window.
-- "Within N working days after X": shared on or after X, on or before the N-th working day after X.
WITH window_bounds AS (
    SELECT window_start($as_at, $window_days) AS window_start,
           CAST($as_at AS DATE) AS window_end
),

partner_invitations AS (
    SELECT DISTINCT meeting_id, CAST(agency AS VARCHAR) AS agency
    FROM meeting_invitations
    WHERE agency IS NOT NULL
      AND agency <> 'SOCIAL_CARE'
      AND invitee_role NOT IN ('MOTHER', 'FATHER', 'MALE_CARER', 'CARER', 'CHILD')
),

cancelled_icpc_events AS (
    SELECT
        meeting.person_id,
        'icpc_meeting' AS entity_type,
        meeting.meeting_id AS event_id,
        -- The cancellation date; the scheduled date stands in when it was not recorded.
        coalesce(meeting.cancelled_date, meeting.scheduled_date) AS event_date,
        'ICPC scheduled for ' || strftime(meeting.scheduled_date, '%Y-%m-%d') || ' was cancelled'
            || coalesce(' on ' || strftime(meeting.cancelled_date, '%Y-%m-%d'), ' (date not recorded)')
            AS event_text,
        'meetings.meeting_id=' || meeting.meeting_id
            || '; scheduled_date=' || strftime(meeting.scheduled_date, '%Y-%m-%d')
            || coalesce('; cancelled_date=' || strftime(meeting.cancelled_date, '%Y-%m-%d'), '') AS event_locator,
        invited.agency
    FROM meetings AS meeting
    JOIN cin_children($as_at) AS cin ON cin.person_id = meeting.person_id
    JOIN partner_invitations AS invited ON invited.meeting_id = meeting.meeting_id
    WHERE meeting.meeting_type = 'ICPC'
      AND meeting.status = 'CANCELLED'
),

nfa_s47s AS (
    SELECT
        s47.s47e_person_id AS person_id,
        s47.s47e_s47_enquiry_id AS enquiry_id,
        s47.s47e_s47_start_date AS start_date,
        s47.s47e_s47_end_date AS end_date
    FROM ssd_s47_enquiry AS s47
    JOIN cin_children($as_at) AS cin ON cin.person_id = s47.s47e_person_id
    WHERE s47.s47e_s47_nfa
      AND s47.s47e_s47_end_date IS NOT NULL
),

-- Each agency invited to any strategy meeting for the child in the lookback before the S47 start.
nfa_s47_events AS (
    SELECT
        s47.person_id,
        's47_enquiry' AS entity_type,
        s47.enquiry_id AS event_id,
        s47.end_date AS event_date,
        'S47 enquiry started ' || strftime(s47.start_date, '%Y-%m-%d') || ' ended with no further action on '
            || strftime(s47.end_date, '%Y-%m-%d') AS event_text,
        'ssd_s47_enquiry.s47e_s47_enquiry_id=' || s47.enquiry_id
            || '; s47e_s47_end_date=' || strftime(s47.end_date, '%Y-%m-%d')
            || '; strategy meetings.meeting_id=' || array_to_string(list_sort(list_distinct(list(strategy.meeting_id))), ', ')
            AS event_locator,
        invited.agency
    FROM nfa_s47s AS s47
    JOIN meetings AS strategy
      ON strategy.person_id = s47.person_id
     AND strategy.meeting_type = 'STRATEGY'
     AND CASE WHEN strategy.status = 'HELD' THEN coalesce(strategy.held_date, strategy.scheduled_date)
              ELSE strategy.scheduled_date END
         BETWEEN s47.start_date - CAST($strategy_lookback_days AS INTEGER) AND s47.start_date
    JOIN partner_invitations AS invited ON invited.meeting_id = strategy.meeting_id
    GROUP BY s47.person_id, s47.enquiry_id, s47.start_date, s47.end_date, invited.agency
),

events_due AS (
    SELECT event.*, add_working_days(event.event_date, $share_working_days) AS share_due_date
    FROM (
        SELECT * FROM cancelled_icpc_events
        UNION ALL
        SELECT * FROM nfa_s47_events
    ) AS event
    CROSS JOIN window_bounds AS w
    WHERE event.event_date BETWEEN w.window_start AND w.window_end
),

outcome_shares AS (
    SELECT person_id, CAST(to_agency AS VARCHAR) AS agency, share_id, shared_date
    FROM information_sharing
    WHERE from_agency = 'SOCIAL_CARE'
      AND topic IN ('ICPC_CANCELLED', 'S47_OUTCOME')
      AND shared_date <= $as_at
),

agencies_not_told AS (
    SELECT
        event.person_id,
        event.entity_type,
        event.event_id,
        event.event_text,
        event.event_locator,
        event.agency,
        event.share_due_date,
        count(share.share_id) FILTER (WHERE share.shared_date <= event.share_due_date) AS shares_in_time,
        min(share.shared_date) AS first_share_date
    FROM events_due AS event
    LEFT JOIN outcome_shares AS share
      ON share.person_id = event.person_id
     AND share.agency = event.agency
     AND share.shared_date >= event.event_date
    WHERE event.share_due_date < $as_at
    GROUP BY ALL
    HAVING shares_in_time = 0
)

SELECT
    person_id,
    'SOCIAL_CARE' AS agency,
    entity_type,
    event_id || ':' || agency AS entity_id,
    -- Never told is graver than told late.
    CASE WHEN first_share_date IS NULL THEN 'HIGH' ELSE 'MEDIUM' END AS severity,
    event_text || '; ' || agency || ' was not told by ' || strftime(share_due_date, '%Y-%m-%d') || ' ('
        || $share_working_days || ' working days)'
        || CASE WHEN first_share_date IS NULL THEN ' and has not been told since.'
                ELSE ' and was told late on ' || strftime(first_share_date, '%Y-%m-%d') || '.' END AS detail,
    'ssd_person.pers_person_id=' || person_id || '; ' || event_locator
        || '; share to ' || agency || ' due by=' || strftime(share_due_date, '%Y-%m-%d') AS locator
FROM agencies_not_told
