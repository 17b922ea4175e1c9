-- FATHER_VOICE_ABSENT: for a CiN child, no father or male carer is recorded in family_members
-- ("father not recorded"); or one is recorded but in the window there is neither a voice record
-- from a FATHER / MALE_CARER nor a meeting invitation to one.
-- An invitation is dated by its meeting: the held date for a held meeting, else the scheduled
-- date (invited_date is optional in the contract and says nothing about engagement).
WITH window_bounds AS (
    SELECT window_start($as_at, $window_days) AS window_start,
           CAST($as_at AS DATE) AS window_end
),

recorded_fathers AS (
    SELECT person_id, count(DISTINCT member_id) AS fathers_recorded
    FROM family_members
    WHERE relationship IN ('FATHER', 'MALE_CARER')
    GROUP BY person_id
),

father_voice_in_window AS (
    SELECT DISTINCT voice.person_id
    FROM voice_records AS voice, window_bounds AS w
    WHERE voice.voice_source IN ('FATHER', 'MALE_CARER')
      AND voice.recorded_date BETWEEN w.window_start AND w.window_end
),

father_invited_in_window AS (
    SELECT DISTINCT meeting.person_id
    FROM meeting_invitations AS invitation
    JOIN meetings AS meeting ON meeting.meeting_id = invitation.meeting_id
    CROSS JOIN window_bounds AS w
    WHERE invitation.invitee_role IN ('FATHER', 'MALE_CARER')
      AND CASE WHEN meeting.status = 'HELD' THEN coalesce(meeting.held_date, meeting.scheduled_date)
               ELSE meeting.scheduled_date END BETWEEN w.window_start AND w.window_end
),

last_father_voice AS (
    SELECT person_id, max(recorded_date) AS last_voice_date
    FROM voice_records
    WHERE voice_source IN ('FATHER', 'MALE_CARER')
      AND recorded_date <= $as_at
    GROUP BY person_id
)

SELECT
    cin.person_id,
    'SOCIAL_CARE' AS agency,
    'child' AS entity_type,
    cin.person_id AS entity_id,
    'MEDIUM' AS severity,
    CASE WHEN father.person_id IS NULL
         THEN 'Father not recorded: no father or male carer in the child''s family members.'
         ELSE father.fathers_recorded || ' father or male carer(s) recorded, but no voice record from them and no '
              || 'meeting invitation to them in the ' || $window_days || ' days from '
              || strftime(w.window_start, '%Y-%m-%d') || ' to ' || strftime(w.window_end, '%Y-%m-%d')
              || coalesce(' (father''s voice last recorded ' || strftime(last_voice.last_voice_date, '%Y-%m-%d') || ').',
                          ' (father''s voice never recorded).')
    END AS detail,
    'ssd_person.pers_person_id=' || cin.person_id
        || CASE WHEN father.person_id IS NULL THEN '; family_members: no FATHER or MALE_CARER'
                ELSE '; voice_records and meeting_invitations from ' || strftime(w.window_start, '%Y-%m-%d')
                     || ' to ' || strftime(w.window_end, '%Y-%m-%d') END AS locator
FROM cin_children($as_at) AS cin
CROSS JOIN window_bounds AS w
LEFT JOIN recorded_fathers AS father ON father.person_id = cin.person_id
LEFT JOIN father_voice_in_window AS voice ON voice.person_id = cin.person_id
LEFT JOIN father_invited_in_window AS invited ON invited.person_id = cin.person_id
LEFT JOIN last_father_voice AS last_voice ON last_voice.person_id = cin.person_id
WHERE father.person_id IS NULL
   OR (voice.person_id IS NULL AND invited.person_id IS NULL)
