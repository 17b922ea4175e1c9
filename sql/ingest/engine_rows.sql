-- Staged rows with their delivered line, optionally only those holding one of $values in a column.
SELECT rowid + 2 AS _line, * FROM {staged} {where} ORDER BY rowid
