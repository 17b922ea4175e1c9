-- The workspace's samples, newest first, with the latest audit mark of each.
SELECT s.sample_id, s.as_at, s.seed, s.cohort, s.size, s.controls, s.warnings, s.drawn_by, s.drawn_at,
       (SELECT m.audited_on FROM audit_marks AS m WHERE m.sample_id = s.sample_id ORDER BY m.mark_id DESC LIMIT 1)
           AS audited_on
FROM audit_samples AS s
ORDER BY s.as_at DESC, s.drawn_at DESC
LIMIT :limit
