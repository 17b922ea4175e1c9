-- The delivered CSV's records, typed by the contract, into the staged table in delivery order
-- (the staged row id + 2 is the record's line). One streaming pass; it fails whole (nothing
-- staged) at the first value that is not clean (sql/ingest/engine_macros.sql). Three levels so
-- that each value is parsed, typed and judged once (caseflags/ingest/engine.py `_Query`).
INSERT INTO {staged}
SELECT {typed}
FROM (
    SELECT {values}
    FROM (
        SELECT {parsed}
        FROM read_csv($path, header = false, skip = 1, columns = $columns, auto_detect = false,
                      delim = ',', quote = '"', escape = '"', strict_mode = true, null_padding = false,
                      max_line_size = $max_line_size)
    ) AS parsed_values
) AS typed_values
