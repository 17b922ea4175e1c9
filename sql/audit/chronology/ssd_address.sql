-- Chronology events from ssd_address (reads: ssd_address).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
WITH child_addresses AS (
    SELECT *, upper(replace(addr_address_postcode, ' ', '')) AS compact_postcode
    FROM ssd_address WHERE addr_person_id = $person_id
)
-- Only the postcode district: enough to see a move without printing an address.
SELECT addr_address_start_date, 'SOCIAL_CARE', 'ssd_address', 'Address recorded',
       concat('Address from ', coalesce(CAST(addr_address_start_date AS VARCHAR), 'unknown date'),
              ', postcode district ',
              CASE WHEN length(compact_postcode) > 3 THEN left(compact_postcode, length(compact_postcode) - 3)
                   ELSE 'not recorded' END),
       NULL
FROM child_addresses
UNION ALL
SELECT addr_address_end_date, 'SOCIAL_CARE', 'ssd_address', 'Address ended', 'Address ended', NULL
FROM child_addresses WHERE addr_address_end_date IS NOT NULL
