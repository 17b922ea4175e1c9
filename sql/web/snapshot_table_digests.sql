-- Publishing the web snapshot by updating the previous one (caseflags/web/snapshot_reuse.py):
-- the named queries it runs. `snapshot_alias` is replaced by the attached snapshot's quoted name.

-- name: schema
-- The store's schema: every table's columns and types, every view and macro (not the temporary ones).
SELECT 'column' AS kind, table_name AS name, column_name AS detail, data_type AS definition
FROM duckdb_columns() WHERE database_name = $database AND schema_name = 'main' AND NOT internal
UNION ALL
SELECT 'view', view_name, NULL, sql FROM duckdb_views() WHERE database_name = $database AND NOT internal
UNION ALL
SELECT 'macro', function_name, NULL, macro_definition FROM duckdb_functions()
WHERE database_name = $database AND function_type IN ('macro', 'table_macro') AND NOT internal
ORDER BY ALL;

-- name: table
-- One store table's content digest: its rows and the sum of their hashes (order does not matter).
SELECT count(*), coalesce(sum(hash(*COLUMNS(*))::HUGEINT), 0) FROM query_table($table_name);

-- name: derived
-- Tables in the snapshot that are not the store's (the pages' derived tables), digests aside.
SELECT table_name FROM duckdb_tables()
WHERE database_name = $snapshot AND schema_name = 'main' AND table_name <> 'snapshot_table_digests'
  AND table_name NOT IN (SELECT table_name FROM duckdb_tables() WHERE database_name = $database AND schema_name = 'main')
ORDER BY table_name;

-- name: kept
SELECT table_name, digest FROM snapshot_alias.snapshot_table_digests;

-- name: keep
CREATE OR REPLACE TABLE snapshot_alias.snapshot_table_digests (table_name VARCHAR NOT NULL, digest VARCHAR NOT NULL);
