-- Chronology events from agency_flags (reads: agency_flags, person_links).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
WITH child_flags AS (
    SELECT flag.*
    FROM agency_flags AS flag
    JOIN person_links AS link
      ON link.agency = CAST(flag.agency AS VARCHAR) AND link.agency_record_id = flag.agency_record_id
    WHERE link.person_id = $person_id
)
SELECT coalesce(start_date, recorded_date), CAST(agency AS VARCHAR), 'agency_flags',
       concat('Flag opened: ', CAST(flag_type AS VARCHAR)),
       concat(CAST(agency AS VARCHAR), ' flag ', CAST(flag_type AS VARCHAR), coalesce(' = ' || flag_value, ''),
              ' on record ', agency_record_id, coalesce('; recorded ' || CAST(recorded_date AS VARCHAR), '')),
       agency_record_id
FROM child_flags
UNION ALL
SELECT end_date, CAST(agency AS VARCHAR), 'agency_flags', concat('Flag closed: ', CAST(flag_type AS VARCHAR)),
       concat(CAST(agency AS VARCHAR), ' flag ', CAST(flag_type AS VARCHAR), ' on record ', agency_record_id,
              ' closed'),
       agency_record_id
FROM child_flags WHERE end_date IS NOT NULL
