-- Typing a delivered CSV value inside DuckDB (caseflags/ingest/engine.py): the same rules as the
-- polars parser (caseflags/ingest/extracts.py `parse_frame`), for values in their plain, common
-- shape. A value outside that shape, or one that does not parse, is not "clean": the load stops
-- (cf_clean raises) and the whole file goes to the exact reader, which quarantines with line,
-- column and reason. DuckDB gives a blank field as NULL.

-- A text value as delivered: no padding at either end (white space or a control character,
-- which the exact reader strips or judges), not SQL Server's NULL literal nor the SSD placeholder
-- (counted per column by the exact reader), no quote left inside it (damaged or doubled quoting).
CREATE OR REPLACE TEMP MACRO cf_plain(v) AS
    v IS NULL OR (regexp_full_match(v, '[^\x00-\x20\p{Z}\x{85}"](?:[^"]*[^\x00-\x20\p{Z}\x{85}"])?')
                  AND v NOT IN ('NULL', 'SSD_PH'));

-- An identifier: printable ASCII only (a control character is damage in an identifier), no
-- padding, no quote, not a literal.
CREATE OR REPLACE TEMP MACRO cf_plain_ascii(v) AS
    v IS NULL OR (regexp_full_match(v, '[!#-~](?:[ !#-~]*[!#-~])?') AND v NOT IN ('NULL', 'SSD_PH'));

-- Not SQL Server's NULL literal nor the SSD placeholder: all that is left to judge in a file whose
-- every value the scan found plain (caseflags/ingest/scan.py `FileScan.plain_ascii_values`).
CREATE OR REPLACE TEMP MACRO cf_not_literal(v) AS v IS NULL OR v NOT IN ('NULL', 'SSD_PH');

-- The typed value when the delivered one is clean (`typed` NULL only for a blank optional value);
-- otherwise the statement fails and nothing is loaded.
CREATE OR REPLACE TEMP MACRO cf_clean(typed, v, plain, required) AS CASE
    WHEN plain AND (typed IS NOT NULL OR (v IS NULL AND NOT required)) THEN typed
    ELSE error('caseflags: not clean')
END;

-- YYYY-MM-DD or DD/MM/YYYY, a trailing time dropped; a sentinel date ("no date": loaded as
-- missing with a warning by the exact reader) is not clean here.
CREATE OR REPLACE TEMP MACRO cf_day(v) AS CASE
    WHEN regexp_full_match(v, '[12][0-9]{3}-[0-9]{2}-[0-9]{2}') THEN try_cast(v AS DATE)
    WHEN regexp_full_match(v, '[12][0-9]{3}-[0-9]{2}-[0-9]{2}[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?')
        THEN try_cast(left(v, 10) AS DATE)
    WHEN regexp_full_match(v, '[0-9]{2}/[0-9]{2}/[12][0-9]{3}(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?')
        THEN CAST(try_strptime(left(v, 10), '%d/%m/%Y') AS DATE)
END;

-- A parsed day that is not a sentinel (`day`: cf_day of the delivered value, made once).
CREATE OR REPLACE TEMP MACRO cf_not_sentinel(day, sentinels) AS CASE
    WHEN NOT list_contains(sentinels, day) THEN day
END;

CREATE OR REPLACE TEMP MACRO cf_flag(v, truthy, falsy) AS CASE
    WHEN list_contains(truthy, upper(v)) THEN true
    WHEN list_contains(falsy, upper(v)) THEN false
END;

-- A whole number (Excel's trailing ".0" dropped) that fits an INTEGER.
CREATE OR REPLACE TEMP MACRO cf_integer(v) AS CASE
    WHEN regexp_full_match(v, '-?[0-9]{1,9}|[0-9]{1,9}\.0+') THEN CAST(regexp_replace(v, '\.0+$', '') AS INTEGER)
END;

-- An agency's own name for a code (its [agencies] alias) mapped first.
CREATE OR REPLACE TEMP MACRO cf_aliased(v, alias_from, alias_to) AS
    coalesce(alias_to[list_position(alias_from, upper(v))], upper(v));

-- A code or flag found in its list is plain (no padding; the lists are ASCII, and DuckDB's
-- simple case mapping turns no other script into ASCII that polars' full mapping would not).
-- `code`: the delivered value in capitals (upper, or cf_aliased), made once.
CREATE OR REPLACE TEMP MACRO cf_listed(code, codes) AS CASE WHEN list_contains(codes, code) THEN code END;

-- Excel's "123.0" is 123.
CREATE OR REPLACE TEMP MACRO cf_id(v) AS CASE WHEN contains(v, '.') THEN regexp_replace(v, '^([0-9]+)\.0+$', '\1') ELSE v END;

CREATE OR REPLACE TEMP MACRO cf_nhs_number(v) AS replace(replace(cf_id(v), ' ', ''), '-', '');

CREATE OR REPLACE TEMP MACRO cf_upn(v) AS replace(upper(v), ' ', '');

-- A row needs one of two columns (ssd_person: a date of birth or an expected one).
CREATE OR REPLACE TEMP MACRO cf_one_of(first, second) AS CASE
    WHEN first IS NULL AND second IS NULL THEN error('caseflags: not clean') ELSE first
END;
