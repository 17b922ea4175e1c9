-- One round of the one-to-one assignment (sql/linkage/resolve.sql): among the eligible pairs
-- whose record and whose (agency, child) are still free, accept those best for both: strictly
-- best for the record (two children alike: neither), and best for the child within the agency,
-- records tied for one child (copies of one registration) settled by the lowest record id.
INSERT INTO linkage_accepted_pairs
WITH free AS (
    SELECT *
    FROM linkage_eligible_pairs
    ANTI JOIN linkage_accepted_pairs AS taken_record USING (agency, agency_record_id)
    ANTI JOIN (SELECT DISTINCT agency, person_id FROM linkage_accepted_pairs) AS taken_child USING (agency, person_id)
),
ranked AS (
    SELECT *,
           max(match_weight) OVER (PARTITION BY agency, agency_record_id) AS best_for_record,
           count(*) OVER (PARTITION BY agency, agency_record_id, match_weight) AS ties_for_record,
           row_number() OVER (PARTITION BY agency, person_id ORDER BY match_weight DESC, agency_record_id)
               AS rank_for_child
    FROM free
)
SELECT agency, agency_record_id, person_id, match_probability, match_weight
FROM ranked
WHERE match_weight = best_for_record AND ties_for_record = 1
  AND rank_for_child = 1;
