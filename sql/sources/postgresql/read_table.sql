-- One table's rows, streamed as COPY text (one line per row, tab-separated, \N for NULL), in a
-- stable order: its primary key, or every column read when it has none. {columns}, {table} and
-- {order} are identifiers from the catalog, quoted by psycopg.sql; no value is ever formatted in.
COPY (SELECT {columns} FROM {table} ORDER BY {order}) TO STDOUT
