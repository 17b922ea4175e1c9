-- Organisations the store knows for an agency, for `caseflags users add|edit --org`: a GP
-- practice from the GP registrations, a school URN from EHCPs and attendance. Bound: $agency, $org.
WITH known AS (
    SELECT 'GP' AS agency, practice_code AS organisation FROM gp_registrations
    UNION ALL
    SELECT 'EDUCATION', school_urn FROM ehcp_plans
    UNION ALL
    SELECT 'EDUCATION', school_urn FROM attendance_summaries
    UNION ALL
    SELECT 'EDUCATION', school_urn FROM attendance_sessions
)
SELECT count(*) > 0 AS is_known
FROM known
WHERE agency = $agency AND upper(trim(organisation)) = $org
