-- Identifier and matching-field normalisation for person linkage.
-- The validity rules mirror checks/identifiers.py (tests hold the two in step), but run set-based
-- inside DuckDB so linkage never loops over rows in Python.

-- NHS number as digits only (ingest already strips spaces; dashes are tolerated here too).
CREATE OR REPLACE MACRO link_nhs_number(value) AS
    nullif(regexp_replace(trim(value), '[\s-]', '', 'g'), '');

-- Modulus 11: weights 10..2 on the first nine digits; check = 11 - (sum mod 11), where 11
-- becomes 0 and 10 can never match a digit (such a number is never valid). Pass a column, not
-- an expression: a macro argument is repeated wherever it is used.
CREATE OR REPLACE MACRO link_nhs_number_is_valid(value) AS coalesce(
    regexp_full_match(value, '[0-9]{10}')
    AND (11 - (
          10 * (ascii(substr(value, 1, 1)) - 48) + 9 * (ascii(substr(value, 2, 1)) - 48)
        + 8 * (ascii(substr(value, 3, 1)) - 48) + 7 * (ascii(substr(value, 4, 1)) - 48)
        + 6 * (ascii(substr(value, 5, 1)) - 48) + 5 * (ascii(substr(value, 6, 1)) - 48)
        + 4 * (ascii(substr(value, 7, 1)) - 48) + 3 * (ascii(substr(value, 8, 1)) - 48)
        + 2 * (ascii(substr(value, 9, 1)) - 48)
    ) % 11) % 11 = ascii(substr(value, 10, 1)) - 48,
    false);

CREATE OR REPLACE MACRO link_upn(value) AS nullif(upper(trim(value)), '');

-- DfE check letter: characters 2-13 weighted by their position (2..13), a letter counting as
-- its place in the check-letter alphabet (temporary UPNs end in one); modulus 23 picks the letter.
CREATE OR REPLACE MACRO link_upn_is_valid(value) AS coalesce(
    regexp_full_match(value, '[A-Z][0-9]{11}[0-9ABCDEFGHJKLMNPQRTUVWXYZ]')
    AND substr(value, 1, 1) = substr('ABCDEFGHJKLMNPQRTUVWXYZ', 1 + CAST(list_sum(list_transform(range(2, 14),
        lambda i: i * CASE
            WHEN substr(value, i, 1) BETWEEN '0' AND '9' THEN ascii(substr(value, i, 1)) - 48
            ELSE strpos('ABCDEFGHJKLMNPQRTUVWXYZ', substr(value, i, 1)) - 1
        END)) % 23 AS BIGINT), 1),
    false);

-- Names compared lower-case, accents dropped, letters only ("Zoë" = "zoe", "O'Brien" = "obrien"),
-- letters of any script kept ("Иван" = "иван"): a name not in Latin letters is compared, not dropped.
CREATE OR REPLACE MACRO link_name(value) AS
    nullif(regexp_replace(lower(strip_accents(trim(value))), '[^\pL]', '', 'g'), '');

-- Sex as M / F; anything else (unknown, not stated, blank) is no evidence either way.
CREATE OR REPLACE MACRO link_sex(value) AS CASE upper(trim(value))
    WHEN 'M' THEN 'M' WHEN 'MALE' THEN 'M' WHEN '1' THEN 'M'
    WHEN 'F' THEN 'F' WHEN 'FEMALE' THEN 'F' WHEN '2' THEN 'F'
END;

-- Postcode upper-case with letters and digits only ("bs16 1qf" -> "BS161QF"), whatever its shape:
-- a postcode from abroad (FEBRL's four Australian digits, an Irish Eircode) is compared as it
-- came, never dropped; a non-UK shape is reported as data quality (linkage_postcode_quality).
CREATE OR REPLACE MACRO link_postcode(value) AS
    nullif(regexp_replace(upper(coalesce(value, '')), '[^A-Z0-9]', '', 'g'), '');

-- A UK postcode's shape: outward code (area letters, district) then the inward code (digit, two letters).
CREATE OR REPLACE MACRO link_postcode_is_uk(pc) AS
    coalesce(regexp_full_match(pc, '[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}'), false);

-- Its sector and district, compared when the full postcode differs. A UK postcode: outward code
-- plus the inward digit ("BS161") / the outward code ("BS16"). Any other shape narrows from the
-- left as the UK one does (four Australian digits: state, region, town): all but the last one /
-- two characters. Too short a value has none.
CREATE OR REPLACE MACRO link_postcode_sector(pc) AS CASE
    WHEN link_postcode_is_uk(pc) THEN left(pc, length(pc) - 2)
    WHEN length(pc) >= 3 THEN left(pc, length(pc) - 1)
END;
CREATE OR REPLACE MACRO link_postcode_district(pc) AS CASE
    WHEN link_postcode_is_uk(pc) THEN left(pc, length(pc) - 3)
    WHEN length(pc) >= 4 THEN left(pc, length(pc) - 2)
END;

-- Date of birth as ISO text, and with day and month swapped (only where that is a real date),
-- so a record keyed the other way round (US order, a typing slip) still agrees.
CREATE OR REPLACE MACRO link_dob(d) AS strftime(d, '%Y-%m-%d');
CREATE OR REPLACE MACRO link_dob_swapped(d) AS CASE
    WHEN day(d) <= 12 AND day(d) <> month(d)
    THEN strftime(make_date(year(d), day(d), month(d)), '%Y-%m-%d')
END;
