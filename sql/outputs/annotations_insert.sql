-- The officer's changed reviews (registered as review_candidates) that differ from the latest
-- stored annotation; FALSE_POSITIVE / ACCEPTED_RISK expire $expiry_days after $now.
INSERT INTO annotations
WITH changed_since_latest AS (
    SELECT candidates.*
    FROM review_candidates AS candidates
    LEFT JOIN annotations_latest AS latest ON latest.exception_id = candidates.exception_id
    WHERE (latest.exception_id IS NULL
           AND NOT (candidates.review_status = 'UNREVIEWED' AND candidates.review_note IS NULL))
       OR latest.review_status IS DISTINCT FROM candidates.review_status
       OR latest.review_note IS DISTINCT FROM candidates.review_note
)
SELECT
    exception_id, review_status, review_note, $now AS annotated_at, $source_file AS source_file,
    CASE WHEN review_status IN ('FALSE_POSITIVE', 'ACCEPTED_RISK')
         THEN CAST($now AS DATE) + $expiry_days END AS expires_on,
    $import_seq AS import_seq
FROM changed_since_latest
RETURNING review_status
