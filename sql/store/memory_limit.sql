-- The night's DuckDB memory limit ([limits] memory_limit_mib; caseflags/store/database.py
-- `apply_memory_limit`): {mib} is the configured whole number of MiB, checked against its range.
SET memory_limit = '{mib}MiB';
