-- Incremental linkage, before scoring: which records and children the model must score tonight.
-- Needs linkage_unresolved_records and linkage_children (sql/linkage_deterministic.sql).
-- Parameter: $model_key (the model and threshold scoring now). A record (child) is scored again
-- when its compared fields changed (features) or it was not scored last time; a kept pair is
-- last time's score of a record and a child that are both unchanged. Another model: everything.

CREATE OR REPLACE TEMP TABLE linkage_record_features AS
SELECT agency, agency_record_id,
       hash(forename, forename_forms, forename_formal, surname, dob, dob_swapped, sex, postcode,
            postcode_sector, postcode_district) AS features
FROM linkage_unresolved_records;

CREATE OR REPLACE TEMP TABLE linkage_child_features AS
SELECT person_id,
       hash(forename, forename_forms, forename_formal, surname, dob, dob_swapped, sex, postcode,
            postcode_sector, postcode_district) AS features
FROM linkage_children;

CREATE OR REPLACE TEMP TABLE linkage_cache_usable AS
SELECT coalesce((SELECT bool_and(model_key = $model_key) FROM link_score_basis), false) AS usable;

-- Records to score against every child: new, changed, or not scored by this model.
CREATE OR REPLACE TEMP TABLE linkage_records_to_score AS
SELECT now_scored.agency, now_scored.agency_record_id
FROM linkage_record_features AS now_scored
WHERE NOT (SELECT usable FROM linkage_cache_usable)
   OR NOT EXISTS (SELECT 1 FROM link_scored_records AS kept
                  WHERE kept.agency = now_scored.agency AND kept.agency_record_id = now_scored.agency_record_id
                    AND kept.features = now_scored.features);

-- Children to score against the records that are not scored anyway.
CREATE OR REPLACE TEMP TABLE linkage_children_to_score AS
SELECT now_scored.person_id
FROM linkage_child_features AS now_scored
WHERE NOT (SELECT usable FROM linkage_cache_usable)
   OR NOT EXISTS (SELECT 1 FROM link_scored_children AS kept
                  WHERE kept.person_id = now_scored.person_id AND kept.features = now_scored.features);

-- Last time's scores that still hold: record and child both unchanged.
CREATE OR REPLACE TEMP TABLE linkage_kept_scores AS
SELECT kept.*
FROM link_pair_scores AS kept
WHERE (SELECT usable FROM linkage_cache_usable)
  AND EXISTS (SELECT 1 FROM linkage_record_features AS r
              WHERE r.agency = kept.agency AND r.agency_record_id = kept.agency_record_id)
  AND NOT EXISTS (SELECT 1 FROM linkage_records_to_score AS r
                  WHERE r.agency = kept.agency AND r.agency_record_id = kept.agency_record_id)
  AND EXISTS (SELECT 1 FROM linkage_child_features AS c WHERE c.person_id = kept.person_id)
  AND NOT EXISTS (SELECT 1 FROM linkage_children_to_score AS c WHERE c.person_id = kept.person_id);
