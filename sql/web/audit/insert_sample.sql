-- A sample drawn in the browser (SQLite workspace; caseflags.web.audit.save_sample).
INSERT INTO audit_samples (sample_id, as_at, seed, cohort, size, controls, exclude_audited_within_days,
                           exceptions_source, exceptions_as_at, warnings, drawn_by, drawn_at, result_json)
VALUES (:sample_id, :as_at, :seed, :cohort, :size, :controls, :exclude_days, :source, :source_as_at, :warnings,
        :drawn_by, :drawn_at, :result_json)
