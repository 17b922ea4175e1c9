-- How many staged rows repeat a key (by hash: a collision only sends the file to the exact
-- reader, which decides). {keyed}: the rows that have a key.
SELECT count(*) - count(DISTINCT hash({key})) FROM {staged} WHERE {keyed}
