-- One recorded sample's children (DuckDB, the snapshot), with age and disabilities at the sample's
-- as-at date worked out as cohort.sql does, for the pack of a sample drawn by `caseflags sample`.
WITH dates_of_birth AS (
    SELECT pers_person_id AS person_id, min(pers_dob) AS dob FROM ssd_person GROUP BY pers_person_id
),
disability_lists AS (
    SELECT disa_person_id AS person_id,
           array_to_string(list_sort(list_distinct(list(CAST(disa_disability_code AS VARCHAR)))), ', ') AS disabilities
    FROM ssd_disability GROUP BY disa_person_id
)
SELECT child.person_id, child.position, child.role, child.age_band, child.need_type, child.weight,
       child.open_exceptions, child.distinct_concerns, child.reasons,
       CASE WHEN dates_of_birth.dob IS NOT NULL THEN
           year($as_at) - year(dates_of_birth.dob)
           - CASE WHEN strftime($as_at, '%m%d') < strftime(dates_of_birth.dob, '%m%d') THEN 1 ELSE 0 END
       END AS age_years,
       coalesce(disability_lists.disabilities, '') AS disabilities
FROM audit_sample_children AS child
LEFT JOIN dates_of_birth USING (person_id)
LEFT JOIN disability_lists USING (person_id)
WHERE child.sample_id = $sample_id
ORDER BY child.position
