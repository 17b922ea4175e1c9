-- Chronology events from voice_records (reads: voice_records).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT recorded_date, CAST(agency AS VARCHAR), 'voice_records',
       concat('Voice: ', CAST(voice_source AS VARCHAR)),
       concat('Voice record ', voice_id, ' from ', CAST(voice_source AS VARCHAR), ', method ', coalesce(CAST(method AS VARCHAR), 'not recorded')),
       voice_id
FROM voice_records WHERE person_id = $person_id
