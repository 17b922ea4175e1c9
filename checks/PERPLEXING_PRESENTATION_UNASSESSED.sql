-- PERPLEXING_PRESENTATION_UNASSESSED: a CiN child has an open PERPLEXING_PRESENTATION flag in
-- some agency, and either
--   * no PP_CONSENSUS meeting was held within the limit after the earliest open flag's start
--     (raised once the limit has passed; a meeting held late does not clear it), one row owned
--     by SOCIAL_CARE; or
--   * an agency expected to know (SOCIAL_CARE always; GP and EDUCATION when they hold a linked
--     record) has neither an open flag of its own nor a PERPLEXING_PRESENTATION share to it,
--     one row owned by that agency.
WITH open_pp_flags AS (
    SELECT
        flag.person_id,
        CAST(flag.agency AS VARCHAR) AS agency,
        -- A flag without a start counts from its recorded date, or from D when it has neither.
        coalesce(flag.start_date, flag.recorded_date, CAST($as_at AS DATE)) AS flag_start
    FROM open_agency_flags($as_at) AS flag
    JOIN cin_children($as_at) AS cin ON cin.person_id = flag.person_id
    WHERE flag.flag_type = 'PERPLEXING_PRESENTATION'
),

flagged_children AS (
    SELECT
        person_id,
        min(flag_start) AS earliest_flag_start,
        array_to_string(list_sort(list_distinct(list(agency))), ', ') AS flagging_agencies,
        add_working_days(min(flag_start), $consensus_meeting_working_days) AS consensus_due_date
    FROM open_pp_flags
    GROUP BY person_id
),

consensus_meetings AS (
    SELECT person_id, meeting_id, meeting_held_on(status, held_date, scheduled_date) AS held_on
    FROM meetings
    WHERE meeting_type = 'PP_CONSENSUS'
      AND meeting_held_on(status, held_date, scheduled_date) <= $as_at
),

consensus_overdue AS (
    SELECT
        child.person_id,
        child.earliest_flag_start,
        child.flagging_agencies,
        child.consensus_due_date,
        count(meeting.meeting_id) FILTER (WHERE meeting.held_on <= child.consensus_due_date) AS meetings_in_time,
        min(meeting.held_on) AS first_meeting_on,
        arg_min(meeting.meeting_id, meeting.held_on) AS first_meeting_id
    FROM flagged_children AS child
    LEFT JOIN consensus_meetings AS meeting
      ON meeting.person_id = child.person_id
     AND meeting.held_on >= child.earliest_flag_start
    WHERE child.consensus_due_date < $as_at
    GROUP BY ALL
    HAVING meetings_in_time = 0
),

missing_consensus_rows AS (
    SELECT
        person_id,
        'SOCIAL_CARE' AS agency,
        'pp_consensus' AS entity_type,
        'PP_CONSENSUS_MEETING' AS entity_id,
        'HIGH' AS severity,
        'Perplexing presentation flagged since ' || strftime(earliest_flag_start, '%Y-%m-%d')
            || ' (open in ' || flagging_agencies || ') but no PP consensus meeting was held by '
            || strftime(consensus_due_date, '%Y-%m-%d') || ', ' || $consensus_meeting_working_days
            || ' working days after the flag'
            || CASE WHEN first_meeting_on IS NULL THEN ', nor since.'
                    ELSE '; one was held late on ' || strftime(first_meeting_on, '%Y-%m-%d') || '.' END
            AS detail,
        'ssd_person.pers_person_id=' || person_id
            || '; earliest open PERPLEXING_PRESENTATION flag start=' || strftime(earliest_flag_start, '%Y-%m-%d')
            || '; consensus meeting due by=' || strftime(consensus_due_date, '%Y-%m-%d')
            || coalesce('; meetings.meeting_id=' || first_meeting_id, '') AS locator
    FROM consensus_overdue
),

-- Agencies expected to know: social care always, GP and education when they hold a linked record.
expected_agencies AS (
    SELECT person_id, 'SOCIAL_CARE' AS agency
    FROM flagged_children
    UNION
    SELECT child.person_id, link.agency
    FROM flagged_children AS child
    JOIN person_links AS link ON link.person_id = child.person_id
    WHERE link.agency IN ('GP', 'EDUCATION')
),

pp_shares AS (
    SELECT DISTINCT person_id, CAST(to_agency AS VARCHAR) AS agency
    FROM information_sharing
    WHERE topic = 'PERPLEXING_PRESENTATION'
      AND shared_date <= $as_at
),

expected_agency_records AS (
    SELECT link.person_id, link.agency, array_to_string(list_sort(list(link.agency_record_id)), ', ') AS record_ids
    FROM person_links AS link
    JOIN expected_agencies AS expected ON expected.person_id = link.person_id AND expected.agency = link.agency
    GROUP BY link.person_id, link.agency
),

agency_lacking_rows AS (
    SELECT
        expected.person_id,
        expected.agency,
        'child_agency' AS entity_type,
        expected.agency AS entity_id,
        'MEDIUM' AS severity,
        'Perplexing presentation is flagged in ' || child.flagging_agencies || ' since '
            || strftime(child.earliest_flag_start, '%Y-%m-%d') || ' but ' || expected.agency
            || ' holds no open perplexing-presentation flag and has received no share about it.' AS detail,
        'ssd_person.pers_person_id=' || expected.person_id
            || coalesce('; ' || expected.agency || ' agency_record_id=' || own_record.record_ids, '')
            || '; earliest open PERPLEXING_PRESENTATION flag start='
            || strftime(child.earliest_flag_start, '%Y-%m-%d') AS locator
    FROM expected_agencies AS expected
    JOIN flagged_children AS child ON child.person_id = expected.person_id
    LEFT JOIN (SELECT DISTINCT person_id, agency FROM open_pp_flags) AS own_flag
      ON own_flag.person_id = expected.person_id AND own_flag.agency = expected.agency
    LEFT JOIN pp_shares AS shared
      ON shared.person_id = expected.person_id AND shared.agency = expected.agency
    LEFT JOIN expected_agency_records AS own_record
      ON own_record.person_id = expected.person_id AND own_record.agency = expected.agency
    WHERE own_flag.person_id IS NULL
      AND shared.person_id IS NULL
)

SELECT person_id, agency, entity_type, entity_id, severity, detail, locator FROM missing_consensus_rows
UNION ALL
SELECT person_id, agency, entity_type, entity_id, severity, detail, locator FROM agency_lacking_rows
