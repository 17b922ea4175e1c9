-- Each row of one live contract table ($table_name) hashed over its typed values, with its
-- business key ($key_columns) hashed apart; a key that is not unique keys nothing (row_key NULL:
-- such rows are compared by their hash, as in tables without a key: $keyed false, $key_columns
-- empty).
CREATE OR REPLACE TEMP TABLE changes_current_rows AS
WITH hashed AS (
    SELECT hash(*COLUMNS(lambda c: list_contains($key_columns, c) OR len($key_columns) = 0)) AS key_hash,
           hash(*COLUMNS(*)) AS row_hash
    FROM query_table($table_name)
),
-- Keys held by more than one row (a grouping: cheaper than counting over a window per row).
repeated_keys AS (
    SELECT key_hash FROM hashed WHERE $keyed GROUP BY key_hash HAVING count(*) > 1
)
SELECT CASE WHEN $keyed AND repeated_keys.key_hash IS NULL THEN hashed.key_hash END AS row_key, row_hash
FROM hashed LEFT JOIN repeated_keys USING (key_hash);
