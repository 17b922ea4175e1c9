-- The latest audit mark of every sample marked in the browser (its mark_id, to tell whether the
-- store has it yet), with its children when the sample was drawn here (children of a store sample
-- are read from the snapshot). SQLite.
SELECT m.sample_id, m.mark_id, m.audited_on, c.person_id
FROM audit_marks AS m
LEFT JOIN audit_sample_children AS c ON c.sample_id = m.sample_id
WHERE m.mark_id = (SELECT max(mark_id) FROM audit_marks AS later WHERE later.sample_id = m.sample_id)
ORDER BY m.sample_id, c.position
