-- A child's chronology: the UNION of the sources under chronology/ whose tables are in the store
-- (caseflags.audit.chronology puts them in place of the marker line below), up to $as_at,
-- oldest first, undated records last; events of one day in source order.
SELECT CAST(event_date AS DATE), agency, source_table, event_type, description, record_id
FROM (
-- {sources}
) AS child_events
WHERE event_date IS NULL OR event_date <= $as_at
ORDER BY event_date NULLS LAST, source_rank, record_id NULLS LAST, event_type, description
