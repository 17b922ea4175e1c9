-- The tables and views of one schema that this login may read, with their columns in order and
-- each column's place in the table's primary key (NULL when not part of it). Read inside the
-- night's REPEATABLE READ transaction, so the columns are those of the rows read.
WITH visible_columns AS (
    SELECT c.table_name, c.column_name, c.data_type, c.ordinal_position
    FROM information_schema.columns AS c
    WHERE c.table_schema = %(schema)s
),
primary_key_columns AS (
    SELECT k.table_name, k.column_name, k.ordinal_position AS key_position
    FROM information_schema.table_constraints AS t
    JOIN information_schema.key_column_usage AS k
      ON k.constraint_schema = t.constraint_schema
     AND k.constraint_name = t.constraint_name
     AND k.table_name = t.table_name
    WHERE t.constraint_type = 'PRIMARY KEY'
      AND t.table_schema = %(schema)s
)
SELECT v.table_name, v.column_name, v.data_type, p.key_position
FROM visible_columns AS v
LEFT JOIN primary_key_columns AS p
  ON p.table_name = v.table_name AND p.column_name = v.column_name
ORDER BY v.table_name, v.ordinal_position
