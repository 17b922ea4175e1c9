-- The partner records already linked to these children (not social care's own self-link): what a
-- candidate would add to, and the child page's "why linked". $people: a list of LA child ids.
SELECT person_id, agency, agency_record_id, method, match_probability
FROM person_links
WHERE list_contains($people, person_id) AND method <> 'LA_ID'
ORDER BY person_id, agency, agency_record_id
