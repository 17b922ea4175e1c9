-- Chronology events from ssd_involvements (reads: ssd_involvements, ssd_professionals).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
WITH professionals AS (
    SELECT prof_professional_id, any_value(prof_professional_job_title) AS job_title,
           any_value(CAST(prof_agency AS VARCHAR)) AS agency
    FROM ssd_professionals GROUP BY prof_professional_id
),
child_involvements AS (
    SELECT involvement.*, professionals.job_title, coalesce(professionals.agency, 'SOCIAL_CARE') AS agency
    FROM ssd_involvements AS involvement
    LEFT JOIN professionals ON professionals.prof_professional_id = involvement.invo_professional_id
    WHERE involvement.invo_person_id = $person_id
)
SELECT invo_involvement_start_date, agency, 'ssd_involvements',
       CASE WHEN invo_professional_role_id = 'CW' THEN 'Social worker allocated' ELSE 'Involvement started' END,
       concat('Professional ', invo_professional_id, coalesce(' (' || job_title || ')', ''), ', role ',
              invo_professional_role_id, ', involvement ', invo_involvements_id),
       invo_involvements_id
FROM child_involvements
UNION ALL
SELECT invo_involvement_end_date, agency, 'ssd_involvements',
       CASE WHEN invo_professional_role_id = 'CW' THEN 'Social worker allocation ended' ELSE 'Involvement ended' END,
       concat('Professional ', invo_professional_id, ', role ', invo_professional_role_id, '; reason ',
              coalesce(CAST(invo_worker_change_reason AS VARCHAR), 'not recorded')),
       invo_involvements_id
FROM child_involvements WHERE invo_involvement_end_date IS NOT NULL
