-- INVALID_IDENTIFIER: identifiers that failed validation at ingest. The rows were loaded, but the
-- identifier is never used for linkage, so the supplying agency must correct it at source.
WITH invalid_identifiers AS (
    SELECT
        table_name,
        file,
        line,
        column_name,
        identifier_type,
        agency,
        person_id,
        record_key,
        reason
    FROM identifier_issues
)

SELECT
    person_id,
    agency,
    column_name AS entity_type,
    table_name || ':' || line AS entity_id,
    'MEDIUM' AS severity,
    CASE identifier_type
        WHEN 'NHS_NUMBER' THEN 'The NHS number'
        ELSE 'The UPN'
    END
        || ' of ' || CASE
            WHEN record_key IS NULL THEN 'a row'
            WHEN table_name = 'agency_records' THEN 'record ' || record_key
            WHEN table_name = 'ehcp_plans' THEN 'EHCP ' || record_key
            ELSE 'child ' || record_key
        END || ' (' || file || ' line ' || line || ') '
        -- The ingest's reason, most basic first: the length, the shape, then the check.
        || regexp_replace(reason, '^(UPN|NHS number) ', '')
        || ', so this record cannot be matched to the child in other agencies: correct it at source.'
        AS detail,
    file || ' line ' || line
        || coalesce('; ' || CASE table_name
            WHEN 'agency_records' THEN 'agency_record_id='
            WHEN 'ehcp_plans' THEN 'ehcp_id='
            ELSE 'person_id='
        END || record_key, '') AS locator
FROM invalid_identifiers
