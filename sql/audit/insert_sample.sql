INSERT INTO audit_samples (sample_id, as_at, seed, cohort, size, controls, exclude_audited_within_days,
                           exceptions_source, exceptions_as_at, warnings, audited_on)
VALUES ($sample_id, $as_at, $seed, $cohort, $size, $controls, $exclude_days, $source, $source_as_at,
        $warnings, NULL)
