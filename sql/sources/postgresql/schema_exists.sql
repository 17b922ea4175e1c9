-- Whether the named schema exists (a missing schema ends the night before anything is read).
SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s
