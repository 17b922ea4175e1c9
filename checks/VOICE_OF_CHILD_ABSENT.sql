-- VOICE_OF_CHILD_ABSENT: no record of the child's own voice (said, observed, through an
-- advocate or by attending a meeting) in the window, in any agency. Observation counts, so a
-- non-verbal child whose voice is captured by observation passes.
WITH bounds AS (
    SELECT CAST($as_at AS DATE) AS window_end, window_start($as_at, $window_days) AS window_start
),

cin_at_as_at AS (
    SELECT person_id, min(plan_start_date) AS cin_since, string_agg(plan_id, ', ' ORDER BY plan_id) AS plan_ids
    FROM open_cin_plans($as_at)
    GROUP BY person_id
),

voice_in_window AS (
    SELECT
        voice.person_id,
        count(*) FILTER (WHERE CAST(voice.voice_source AS VARCHAR) LIKE 'CHILD\_%' ESCAPE '\') AS child_voice_count,
        count(*) FILTER (WHERE CAST(voice.voice_source AS VARCHAR) NOT LIKE 'CHILD\_%' ESCAPE '\') AS adult_voice_count,
        max(voice.recorded_date) FILTER (WHERE CAST(voice.voice_source AS VARCHAR) NOT LIKE 'CHILD\_%' ESCAPE '\') AS latest_adult_voice
    FROM voice_records AS voice, bounds
    WHERE voice.recorded_date BETWEEN bounds.window_start AND bounds.window_end
    GROUP BY voice.person_id
),

latest_child_voice_ever AS (
    SELECT person_id, max(recorded_date) AS latest_child_voice
    FROM voice_records
    WHERE CAST(voice_source AS VARCHAR) LIKE 'CHILD\_%' ESCAPE '\' AND recorded_date <= $as_at
    GROUP BY person_id
)

SELECT
    cin.person_id,
    'SOCIAL_CARE' AS agency,
    'child' AS entity_type,
    cin.person_id AS entity_id,
    'MEDIUM' AS severity,
    'No voice of the child recorded in the ' || $window_days || ' days ' || strftime(bounds.window_start, '%Y-%m-%d')
        || ' to ' || strftime(bounds.window_end, '%Y-%m-%d')
        || CASE
            WHEN coalesce(voice.adult_voice_count, 0) > 0 THEN
                '; parent voice only (' || voice.adult_voice_count || ' adult-sourced record(s), latest '
                || strftime(voice.latest_adult_voice, '%Y-%m-%d') || ')'
            ELSE '; no voice records at all in the window'
        END
        || CASE
            WHEN latest.latest_child_voice IS NULL THEN '; the child''s voice has never been recorded'
            ELSE '; last recorded ' || strftime(latest.latest_child_voice, '%Y-%m-%d')
        END
        || ': record the child''s wishes and feelings (directly, by observation or through an advocate).' AS detail,
    'ssd_person.pers_person_id=' || cin.person_id || '; ssd_cin_plans.cinp_cin_plan_id=' || cin.plan_ids
        || '; voice_records ' || strftime(bounds.window_start, '%Y-%m-%d') || ' to ' || strftime(bounds.window_end, '%Y-%m-%d') AS locator
FROM cin_at_as_at AS cin
CROSS JOIN bounds
LEFT JOIN voice_in_window AS voice ON voice.person_id = cin.person_id
LEFT JOIN latest_child_voice_ever AS latest ON latest.person_id = cin.person_id
WHERE coalesce(voice.child_voice_count, 0) = 0
  AND NOT person_unborn(cin.person_id)  -- a pre-birth case has no voice of its own yet
