-- Audit pack context: family members of the child $person_id.
SELECT CAST(relationship AS VARCHAR), member_id, CASE WHEN parental_responsibility THEN 'yes' WHEN NOT parental_responsibility THEN 'no' ELSE 'not recorded' END,
       CASE WHEN lives_with_child THEN 'yes' WHEN NOT lives_with_child THEN 'no' ELSE 'not recorded' END
FROM family_members WHERE person_id = $person_id
ORDER BY CAST(relationship AS VARCHAR), member_id
