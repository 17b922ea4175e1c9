-- Tonight's rows of one table (changes_current_rows) against the hashes kept from the last
-- publication ($table_name in row_hashes): keyed rows by key (new, changed, gone, unchanged);
-- the others by hash, as a multiset (new and gone only: without a key a change is a row gone
-- and a row new). Hashes made on another basis are not $comparable: every row is new.
WITH previous AS (
    SELECT row_key, row_hash FROM row_hashes WHERE table_name = $table_name AND $comparable
),
keyed_pairs AS (
    SELECT now_rows.row_key IS NOT NULL AS is_now, before_rows.row_key IS NOT NULL AS was_before,
           now_rows.row_hash = before_rows.row_hash AS same
    FROM (SELECT * FROM changes_current_rows WHERE row_key IS NOT NULL) AS now_rows
    FULL JOIN (SELECT * FROM previous WHERE row_key IS NOT NULL) AS before_rows USING (row_key)
),
keyed_counts AS (
    SELECT count(*) FILTER (WHERE is_now AND NOT was_before) AS rows_new,
           count(*) FILTER (WHERE is_now AND was_before AND NOT same) AS rows_changed,
           count(*) FILTER (WHERE was_before AND NOT is_now) AS rows_gone,
           count(*) FILTER (WHERE is_now AND was_before AND same) AS rows_unchanged
    FROM keyed_pairs
),
hash_copies AS (
    SELECT coalesce(now_rows.copies, 0) AS now_copies, coalesce(before_rows.copies, 0) AS before_copies
    FROM (SELECT row_hash, count(*) AS copies FROM changes_current_rows WHERE row_key IS NULL GROUP BY row_hash)
         AS now_rows
    FULL JOIN (SELECT row_hash, count(*) AS copies FROM previous WHERE row_key IS NULL GROUP BY row_hash)
         AS before_rows USING (row_hash)
),
hashed_counts AS (
    SELECT coalesce(sum(greatest(now_copies - before_copies, 0)), 0) AS rows_new,
           coalesce(sum(greatest(before_copies - now_copies, 0)), 0) AS rows_gone,
           coalesce(sum(least(now_copies, before_copies)), 0) AS rows_unchanged
    FROM hash_copies
)
SELECT keyed_counts.rows_new + hashed_counts.rows_new AS rows_new,
       keyed_counts.rows_changed AS rows_changed,
       keyed_counts.rows_gone + hashed_counts.rows_gone AS rows_gone,
       keyed_counts.rows_unchanged + hashed_counts.rows_unchanged AS rows_unchanged
FROM keyed_counts, hashed_counts;
