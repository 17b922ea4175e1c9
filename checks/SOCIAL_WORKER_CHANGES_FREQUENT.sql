-- SOCIAL_WORKER_CHANGES_FREQUENT: a CiN child who had at least max_social_workers different
-- allocated social workers (CW involvements) at any time in the window. Each worker counts
-- once however often re-allocated (A -> B -> A is 2), as in the DfE CLA stability measure.
WITH bounds AS (
    SELECT CAST($as_at AS DATE) AS window_end, window_start($as_at, $window_days) AS window_start
),

cin_at_as_at AS (
    SELECT DISTINCT person_id FROM cin_children($as_at)
),

allocations_in_window AS (
    -- An allocation covers [start, end): allocated on a day when start <= day < end.
    SELECT
        involvement.invo_person_id AS person_id,
        involvement.invo_professional_id AS professional_id,
        involvement.invo_involvements_id AS involvement_id,
        involvement.invo_involvement_start_date AS allocated_from
    FROM ssd_involvements AS involvement
    JOIN cin_at_as_at AS cin ON cin.person_id = involvement.invo_person_id
    CROSS JOIN bounds
    WHERE involvement.invo_professional_role_id = 'CW'
      AND involvement.invo_involvement_start_date <= bounds.window_end
      AND (involvement.invo_involvement_end_date IS NULL OR involvement.invo_involvement_end_date > bounds.window_start)
),

workers_per_child AS (
    SELECT
        person_id,
        count(DISTINCT professional_id) AS worker_count,
        max(allocated_from) AS latest_allocation,
        string_agg(involvement_id, ', ' ORDER BY allocated_from, involvement_id) AS involvement_ids
    FROM allocations_in_window
    GROUP BY person_id
)

SELECT
    workers.person_id,
    'SOCIAL_CARE' AS agency,
    'child' AS entity_type,
    workers.person_id AS entity_id,
    'MEDIUM' AS severity,
    workers.worker_count || ' different social workers were allocated between ' || strftime(bounds.window_start, '%Y-%m-%d')
        || ' and ' || strftime(bounds.window_end, '%Y-%m-%d') || ' (threshold ' || $max_social_workers || ' in '
        || $window_days || ' days); the latest allocation started ' || strftime(workers.latest_allocation, '%Y-%m-%d')
        || ': review continuity of the allocated worker.' AS detail,
    'ssd_involvements.invo_involvements_id=' || workers.involvement_ids || ' (role CW)' AS locator,
    workers.worker_count AS magnitude,
    $max_social_workers AS threshold,
    'social workers' AS magnitude_unit
FROM workers_per_child AS workers
CROSS JOIN bounds
WHERE workers.worker_count >= $max_social_workers
