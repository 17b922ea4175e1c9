-- SELF_HARM_NOT_SHARED: self-harm is known to an agency (an open SELF_HARM flag, or factor 15A on
-- a social care assessment started in the lookback months up to D) and another agency actively
-- involved with the CiN child (a linked record plus an open flag of any type, an open
-- involvement, or a meeting invitation in the invitation window) has neither a SELF_HARM flag
-- nor a SELF_HARM share to it. One row per child and lacking agency.
-- Owner: the agency with the earliest self-harm record (flag start or assessment start date);
-- SOCIAL_CARE when several agencies share the earliest date. Shares never make a source.
WITH child_flags AS (
    SELECT
        flag.person_id,
        CAST(flag.agency AS VARCHAR) AS agency,
        flag.flag_type,
        -- A flag without a start counts from its recorded date, or from D when it has neither.
        coalesce(flag.start_date, flag.recorded_date, CAST($as_at AS DATE)) AS flag_start
    FROM open_agency_flags($as_at) AS flag
    JOIN cin_children($as_at) AS cin ON cin.person_id = flag.person_id
),

self_harm_records AS (
    SELECT person_id, agency, flag_start AS known_since, 'open SELF_HARM flag' AS source_kind
    FROM child_flags
    WHERE flag_type = 'SELF_HARM'
    UNION ALL
    SELECT
        assessment.cina_person_id AS person_id,
        'SOCIAL_CARE' AS agency,
        assessment.cina_assessment_start_date AS known_since,
        'factor 15A on assessment ' || assessment.cina_assessment_id AS source_kind
    FROM ssd_cin_assessments AS assessment
    JOIN ssd_assessment_factors AS factors ON factors.cinf_assessment_id = assessment.cina_assessment_id
    JOIN cin_children($as_at) AS cin ON cin.person_id = assessment.cina_person_id
    WHERE list_contains(factors.cinf_assessment_factors_json, '15A')
      AND assessment.cina_assessment_start_date <= $as_at
      -- "In the last N months": on or after the same day N months before D.
      AND assessment.cina_assessment_start_date
          >= CAST(CAST($as_at AS DATE) - to_months(CAST($assessment_lookback_months AS INTEGER)) AS DATE)
),

source_agencies AS (
    SELECT
        person_id,
        agency,
        min(known_since) AS known_since,
        arg_min(source_kind, known_since) AS first_source_kind
    FROM self_harm_records
    GROUP BY person_id, agency
),

self_harm_owners AS (
    SELECT
        person_id,
        min(known_since) AS first_known,
        CASE WHEN count(*) FILTER (WHERE known_since = earliest) > 1 THEN 'SOCIAL_CARE'
             ELSE arg_min(agency, known_since) END AS owner_agency,
        arg_min(first_source_kind, known_since) AS first_source_kind,
        array_to_string(list_sort(list(agency)), ', ') AS source_agencies
    FROM (
        SELECT *, min(known_since) OVER (PARTITION BY person_id) AS earliest FROM source_agencies
    ) AS ranked_sources
    GROUP BY person_id
),

-- ssd_involvements is social care's record: a professional with no agency is social care's own.
open_involvements AS (
    SELECT DISTINCT
        involvement.invo_person_id AS person_id,
        coalesce(CAST(professional.prof_agency AS VARCHAR), 'SOCIAL_CARE') AS agency
    FROM ssd_involvements AS involvement
    LEFT JOIN ssd_professionals AS professional
      ON professional.prof_professional_id = involvement.invo_professional_id
    WHERE involvement.invo_involvement_start_date <= $as_at
      AND (involvement.invo_involvement_end_date IS NULL OR involvement.invo_involvement_end_date > $as_at)
),

-- An invitation is dated by its meeting: the held date for a held meeting, else the scheduled date.
recent_invitations AS (
    SELECT DISTINCT meeting.person_id, CAST(invitation.agency AS VARCHAR) AS agency
    FROM meeting_invitations AS invitation
    JOIN meetings AS meeting ON meeting.meeting_id = invitation.meeting_id
    WHERE invitation.agency IS NOT NULL
      AND CASE WHEN meeting.status = 'HELD' THEN coalesce(meeting.held_date, meeting.scheduled_date)
               ELSE meeting.scheduled_date END
          BETWEEN window_start($as_at, $invitation_window_days) AND $as_at
),

actively_involved AS (
    SELECT involvement.person_id, involvement.agency
    FROM (
        SELECT person_id, agency FROM child_flags
        UNION
        SELECT person_id, agency FROM open_involvements
        UNION
        SELECT person_id, agency FROM recent_invitations
    ) AS involvement
    WHERE EXISTS (
        SELECT 1 FROM person_links AS link
        WHERE link.person_id = involvement.person_id AND link.agency = involvement.agency
    )
),

self_harm_shares AS (
    SELECT DISTINCT person_id, CAST(to_agency AS VARCHAR) AS agency
    FROM information_sharing
    WHERE topic = 'SELF_HARM'
      AND shared_date <= $as_at
)

SELECT
    involved.person_id,
    owner.owner_agency AS agency,
    'child_agency' AS entity_type,
    involved.agency AS entity_id,
    'HIGH' AS severity,
    'Self-harm is recorded by ' || owner.source_agencies || ' (first on '
        || strftime(owner.first_known, '%Y-%m-%d') || ') but ' || involved.agency
        || ', actively involved with the child, has no self-harm flag and has received no self-harm share.'
        AS detail,
    -- Only the owner's own records are named: another agency's record ids never leave it.
    'ssd_person.pers_person_id=' || involved.person_id
        || '; first self-harm record=' || strftime(owner.first_known, '%Y-%m-%d')
        || CASE WHEN owner_source.agency IS NOT NULL
                THEN ' (' || owner_source.first_source_kind || ')'
                ELSE ' (several agencies on the same day)' END
        || '; share with ' || involved.agency AS locator
FROM actively_involved AS involved
JOIN self_harm_owners AS owner ON owner.person_id = involved.person_id
LEFT JOIN source_agencies AS owner_source
  ON owner_source.person_id = owner.person_id
 AND owner_source.agency = owner.owner_agency
 AND owner_source.known_since = owner.first_known
LEFT JOIN source_agencies AS known
  ON known.person_id = involved.person_id AND known.agency = involved.agency
LEFT JOIN self_harm_shares AS shared
  ON shared.person_id = involved.person_id AND shared.agency = involved.agency
WHERE known.agency IS NULL
  AND shared.agency IS NULL
