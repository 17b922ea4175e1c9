-- Chronology events from information_sharing (reads: information_sharing).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT shared_date, CAST(from_agency AS VARCHAR), 'information_sharing',
       concat('Shared: ', CAST(topic AS VARCHAR)),
       concat(CAST(from_agency AS VARCHAR), ' shared ', CAST(topic AS VARCHAR), ' with ',
              CAST(to_agency AS VARCHAR), '; event ', CAST(event_date AS VARCHAR), ', shared ',
              date_diff('day', event_date, shared_date), ' days later',
              coalesce('; about ' || related_id, '')),
       share_id
FROM information_sharing WHERE person_id = $person_id
