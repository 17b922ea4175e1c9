-- The store's audited samples' children (audited_on is set by `caseflags sample mark-audited`
-- or carried from the web workspace).
INSERT INTO audit_audited_children
SELECT child.person_id, sample.audited_on
FROM audit_sample_children AS child
JOIN audit_samples AS sample USING (sample_id)
WHERE sample.audited_on IS NOT NULL;
