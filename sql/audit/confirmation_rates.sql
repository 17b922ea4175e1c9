-- Per check, over every recorded audit: confirmed, not a concern, missed and samples.
SELECT
    check_id,
    count(*) FILTER (WHERE flagged AND outcome = 'CONFIRMED') AS confirmed,
    count(*) FILTER (WHERE flagged AND outcome = 'NOT_A_CONCERN') AS not_a_concern,
    count(*) FILTER (WHERE NOT flagged AND outcome = 'CONFIRMED') AS missed,
    count(DISTINCT sample_id) AS samples
FROM audit_outcomes
GROUP BY check_id
ORDER BY check_id
