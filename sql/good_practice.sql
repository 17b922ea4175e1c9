-- Good practice seen (CHECKS.md): children who are CiN at D whose records show, in the window
-- [D - (window_days - 1), D], one of the practices the audit praised. A report section, not
-- exceptions. One row per child and practice: person_id, practice, evidence.
--   JOINT_VISITS                     a home or school visit made jointly with another agency
--   CHILD_ATTENDED_REVIEW            the child attended their own review meeting, held in the window
--   NON_VERBAL_VOICE_BY_OBSERVATION  a child with a communication impairment (COMM) whose voice was
--                                    recorded by observation
--   REGULAR_FAMILY_CONTACT           a visit (home visit by any agency, or a CiN visit) in every
--                                    4-week (28-day) span of the window
-- Interim support while on a waiting list is not derivable from the extracts and is not listed.
WITH window_bounds AS (
    SELECT CAST($as_at AS DATE) - (CAST($window_days AS INTEGER) - 1) AS window_start,
           CAST($as_at AS DATE) AS window_end
),

cohort AS (
    SELECT person_id FROM cin_children($as_at)
),

joint_visits AS (
    SELECT
        contact.person_id,
        'JOINT_VISITS' AS practice,
        count(*) || ' joint visit(s) between ' || strftime(w.window_start, '%Y-%m-%d') || ' and '
            || strftime(w.window_end, '%Y-%m-%d') || ', the latest on ' || strftime(max(contact.contact_date), '%Y-%m-%d')
            || ' (' || arg_max(CAST(contact.agency AS VARCHAR), contact.contact_date) || ' with '
            || arg_max(CAST(contact.joint_with_agency AS VARCHAR), contact.contact_date) || ').' AS evidence
    FROM family_contacts AS contact
    JOIN cohort ON cohort.person_id = contact.person_id
    CROSS JOIN window_bounds AS w
    WHERE contact.joint_with_agency IS NOT NULL
      AND contact.contact_type IN ('HOME_VISIT', 'SCHOOL_VISIT')
      AND contact.contact_date BETWEEN w.window_start AND w.window_end
    GROUP BY contact.person_id, w.window_start, w.window_end
),

child_attended_review AS (
    SELECT
        meeting.person_id,
        'CHILD_ATTENDED_REVIEW' AS practice,
        'The child attended ' || count(*) || ' of their own review meeting(s) between '
            || strftime(w.window_start, '%Y-%m-%d') || ' and ' || strftime(w.window_end, '%Y-%m-%d')
            || ', the latest a ' || arg_max(CAST(meeting.meeting_type AS VARCHAR), meeting.held_on)
            || ' on ' || strftime(max(meeting.held_on), '%Y-%m-%d') || '.' AS evidence
    FROM (
        SELECT *, meeting_held_on(status, held_date, scheduled_date) AS held_on FROM meetings
    ) AS meeting
    JOIN cohort ON cohort.person_id = meeting.person_id
    CROSS JOIN window_bounds AS w
    WHERE meeting.meeting_type IN ('CIN_REVIEW', 'CP_REVIEW', 'EHCP_ANNUAL_REVIEW', 'TRANSITION_REVIEW')
      AND meeting.child_attended
      AND meeting.held_on BETWEEN w.window_start AND w.window_end
    GROUP BY meeting.person_id, w.window_start, w.window_end
),

non_verbal_voice_by_observation AS (
    SELECT
        voice.person_id,
        'NON_VERBAL_VOICE_BY_OBSERVATION' AS practice,
        'Voice of a child with a communication impairment captured by observation ' || count(*)
            || ' time(s) between ' || strftime(w.window_start, '%Y-%m-%d') || ' and '
            || strftime(w.window_end, '%Y-%m-%d') || ', the latest on '
            || strftime(max(voice.recorded_date), '%Y-%m-%d') || '.' AS evidence
    FROM voice_records AS voice
    JOIN cohort ON cohort.person_id = voice.person_id
    CROSS JOIN window_bounds AS w
    WHERE voice.voice_source = 'CHILD_OBSERVATION'
      AND voice.recorded_date BETWEEN w.window_start AND w.window_end
      AND EXISTS (
          SELECT 1 FROM ssd_disability AS disability
          WHERE disability.disa_person_id = voice.person_id AND disability.disa_disability_code = 'COMM'
      )
    GROUP BY voice.person_id, w.window_start, w.window_end
),

visit_days AS (
    SELECT DISTINCT visit.person_id, visit.visit_date
    FROM (
        SELECT person_id, contact_date AS visit_date FROM family_contacts WHERE contact_type = 'HOME_VISIT'
        UNION ALL
        SELECT cinv_person_id, cinv_cin_visit_date FROM ssd_cin_visits
    ) AS visit
    JOIN cohort ON cohort.person_id = visit.person_id
    CROSS JOIN window_bounds AS w
    WHERE visit.visit_date BETWEEN w.window_start AND w.window_end
),

-- Every 28-day span of the window holds a visit exactly when no gap between consecutive visits,
-- counting the day before the window and the day after D as visits, exceeds 28 days.
visit_gaps AS (
    SELECT
        person_id,
        visit_date,
        is_visit,
        visit_date - lag(visit_date) OVER (PARTITION BY person_id ORDER BY visit_date) AS days_since_previous,
        lag(is_visit) OVER (PARTITION BY person_id ORDER BY visit_date) AS previous_is_visit
    FROM (
        SELECT person_id, visit_date, TRUE AS is_visit FROM visit_days
        UNION ALL
        SELECT DISTINCT visit_days.person_id, w.window_start - 1, FALSE FROM visit_days, window_bounds AS w
        UNION ALL
        SELECT DISTINCT visit_days.person_id, w.window_end + 1, FALSE FROM visit_days, window_bounds AS w
    ) AS bounded_visits
),

regular_family_contact AS (
    SELECT
        gap.person_id,
        'REGULAR_FAMILY_CONTACT' AS practice,
        'A visit in every 4-week span between ' || strftime(w.window_start, '%Y-%m-%d') || ' and '
            || strftime(w.window_end, '%Y-%m-%d') || ': ' || count(*) FILTER (WHERE gap.is_visit)
            || ' visit day(s), the longest gap between visits '
            || coalesce(max(gap.days_since_previous) FILTER (WHERE gap.is_visit AND gap.previous_is_visit), 0)
            || ' days.' AS evidence
    FROM visit_gaps AS gap
    CROSS JOIN window_bounds AS w
    GROUP BY gap.person_id, w.window_start, w.window_end
    HAVING max(gap.days_since_previous) <= 28
)

SELECT person_id, practice, evidence FROM joint_visits
UNION ALL
SELECT person_id, practice, evidence FROM child_attended_review
UNION ALL
SELECT person_id, practice, evidence FROM non_verbal_voice_by_observation
UNION ALL
SELECT person_id, practice, evidence FROM regular_family_contact
ORDER BY person_id, practice
