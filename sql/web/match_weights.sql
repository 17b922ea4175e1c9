-- Why linked / why offered: each field's match weight (splink's waterfall) for the pairs asked
-- for, in the order they add up (prior first). $pairs: a list of agency|record|child keys.
SELECT agency, agency_record_id, person_id, comparison, level, match_weight
FROM link_match_weights
WHERE list_contains($pairs, agency || '|' || agency_record_id || '|' || person_id)
ORDER BY agency, agency_record_id, person_id, position
