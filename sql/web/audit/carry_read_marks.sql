-- The workspace's audit marks, in the order they were made (SQLite).
SELECT mark_id, sample_id, audited_on, marked_by FROM audit_marks ORDER BY mark_id
