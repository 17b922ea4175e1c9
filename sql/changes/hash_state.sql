-- What the store holds for one table ($table_name): its kept hashes and the basis they were
-- made on (the latest recorded counts of that table), and how many rows the live table holds.
SELECT (SELECT count(*) FROM row_hashes WHERE table_name = $table_name) AS kept_hashes,
       (SELECT hash_basis FROM row_changes WHERE table_name = $table_name
        ORDER BY run_id DESC LIMIT 1) AS kept_basis;
