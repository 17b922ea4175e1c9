-- Incremental linkage, after scoring: keep tonight's scores (linkage_scores) and what was scored,
-- for the next night (sql/linkage/score_plan.sql). Parameter: $model_key.
DELETE FROM link_pair_scores;
INSERT INTO link_pair_scores SELECT * FROM linkage_scores;
DELETE FROM link_scored_records;
INSERT INTO link_scored_records SELECT agency, agency_record_id, features FROM linkage_record_features;
DELETE FROM link_scored_children;
INSERT INTO link_scored_children SELECT person_id, features FROM linkage_child_features;
DELETE FROM link_score_basis;
INSERT INTO link_score_basis VALUES ($model_key);
