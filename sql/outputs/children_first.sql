-- The ten children to act on first in run $run_id (child_priority), for the officers' workbook.
SELECT rank, person_id, priority, priority_reason, open_concerns, concerns, agencies,
       social_worker_name, social_worker_team
FROM child_priority
WHERE run_id = $run_id
ORDER BY rank
LIMIT 10
