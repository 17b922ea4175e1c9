-- Commas inside the values of a quoted CSV (caseflags/ingest/engine.py `_commas_in_values`).
SELECT sum({counted})
FROM read_csv($path, header = false, skip = 1, columns = $columns, auto_detect = false,
              delim = ',', quote = '"', escape = '"', strict_mode = true, null_padding = false,
              max_line_size = $max_line_size)
