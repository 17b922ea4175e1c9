-- Keep tonight's hashes of one table ($table_name) for the next night's comparison.
DELETE FROM row_hashes WHERE table_name = $table_name;
INSERT INTO row_hashes SELECT $table_name, row_key, row_hash FROM changes_current_rows;
DROP TABLE changes_current_rows;
