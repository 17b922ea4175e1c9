-- An outcome being replaced by a later import of the same sample: ($1 sample, $2 child, $3 check).
DELETE FROM audit_outcomes WHERE sample_id = $1 AND person_id = $2 AND check_id = $3
