-- Audit pack context: allocated social worker of the child $person_id.
SELECT invo_professional_id, invo_involvement_start_date
FROM ssd_involvements
WHERE invo_person_id = $person_id AND invo_professional_role_id = 'CW'
  AND invo_involvement_start_date <= $as_at
  AND (invo_involvement_end_date IS NULL OR invo_involvement_end_date > $as_at)
ORDER BY invo_involvement_start_date, invo_professional_id
