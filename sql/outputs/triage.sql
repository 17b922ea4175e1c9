-- Triage of run $run_id's listed exceptions (docs/OUTPUTS.md, "Priority and owners"): who owns
-- each row (the allocated social worker and team, the school or GP practice, or the agency's
-- central queue with the reason), its priority as risk with a one-line reason, its locator in
-- plain words; and each child's priority (child_priority). Needs exception_agency_rows of the
-- run (caseflags.outputs.organisations.record_agency_rows) and the check macros (sql/macros.sql).
-- Weights are bound parameters from configuration [priority] (caseflags/config/defaults.toml).
DELETE FROM exception_triage WHERE run_id = $run_id;
DELETE FROM child_priority WHERE run_id = $run_id;
INSERT INTO exception_triage
WITH listed AS (
    SELECT history.*, nullif(history.person_id, '') AS child_id
    FROM exception_history AS history
    WHERE history.run_id = $run_id AND history.status IN ('NEW', 'OPEN')
),

magnitudes AS (
    -- the magnitude of the evaluation the listed row shows (older for a carried row)
    SELECT listed.exception_id, measured.magnitude, measured.threshold, measured.magnitude_unit
    FROM listed
    JOIN exceptions AS raised
      ON raised.exception_id = listed.exception_id AND raised.as_at = listed.evaluated_as_at
    JOIN exception_magnitudes AS measured
      ON measured.run_id = raised.run_id AND measured.exception_id = raised.exception_id
    WHERE measured.threshold > 0
    QUALIFY row_number() OVER (PARTITION BY listed.exception_id ORDER BY raised.run_id DESC) = 1
),

children AS (
    SELECT DISTINCT child_id AS person_id FROM listed WHERE child_id IS NOT NULL
),

child_protection AS (
    -- an ICPC held in the last year, an open S47 enquiry, or an open CP flag in any agency
    SELECT icpc_person_id AS person_id FROM ssd_initial_cp_conference
    WHERE icpc_icpc_date BETWEEN CAST($as_at AS DATE) - 365 AND CAST($as_at AS DATE)
    UNION
    SELECT s47e_person_id FROM ssd_s47_enquiry
    WHERE s47e_s47_start_date <= CAST($as_at AS DATE)
      AND (s47e_s47_end_date IS NULL OR s47e_s47_end_date > CAST($as_at AS DATE))
    UNION
    SELECT person_id FROM open_agency_flags($as_at) WHERE flag_type = 'CP'
),

harm_or_exploitation AS (
    -- an open SELF_HARM flag, or an assessment in the last year with CIN census factor 15A
    -- (self-harm), 11A (child sexual exploitation), 12A (trafficking) or 24A (criminal exploitation)
    SELECT person_id FROM open_agency_flags($as_at) WHERE flag_type = 'SELF_HARM'
    UNION
    SELECT assessment.cina_person_id
    FROM ssd_cin_assessments AS assessment
    JOIN ssd_assessment_factors AS factors ON factors.cinf_assessment_id = assessment.cina_assessment_id
    WHERE assessment.cina_assessment_start_date BETWEEN CAST($as_at AS DATE) - 365 AND CAST($as_at AS DATE)
      AND list_has_any(factors.cinf_assessment_factors_json, ['15A', '11A', '12A', '24A'])
),

vulnerability AS (
    SELECT
        children.person_id,
        children.person_id IN (SELECT person_id FROM child_protection) AS child_protection,
        children.person_id IN (SELECT person_id FROM cin_children($as_at)) AS child_in_need,
        children.person_id IN (SELECT person_id FROM active_ehcp_children($as_at)) AS has_ehcp,
        coalesce((SELECT min(age_years(person.pers_dob, CAST($as_at AS DATE))) < 5
                  FROM ssd_person AS person WHERE person.pers_person_id = children.person_id), false) AS under_5,
        children.person_id IN (SELECT person_id FROM harm_or_exploitation) AS harm_or_exploitation
    FROM children
),

concerns_per_child AS (
    SELECT child_id AS person_id, list(DISTINCT check_id) AS check_ids
    FROM listed WHERE child_id IS NOT NULL
    GROUP BY child_id
),

workers AS (
    SELECT person_id, professional_id, worker_name, worker_team
    FROM allocated_worker_named($as_at)
    WHERE person_id IN (SELECT person_id FROM children)
),

scored AS (
    SELECT
        listed.exception_id,
        listed.child_id,
        listed.severity,
        listed.agency,
        listed.check_id,
        listed.detail,
        listed.locator,
        CAST($as_at AS DATE) - listed.first_seen AS days_open,
        magnitudes.magnitude,
        magnitudes.threshold,
        magnitudes.magnitude_unit,
        -- how far past the threshold, as a fraction of it (0 at the threshold), capped
        least(greatest((magnitudes.magnitude - magnitudes.threshold) / magnitudes.threshold, 0),
              $magnitude_cap_multiple) AS excess,
        coalesce(vulnerability.child_protection, false) AS child_protection,
        coalesce(vulnerability.child_in_need, false) AS child_in_need,
        coalesce(vulnerability.has_ehcp, false) AS has_ehcp,
        coalesce(vulnerability.under_5, false) AS under_5,
        coalesce(vulnerability.harm_or_exploitation, false) AS harm_or_exploitation,
        coalesce(len(list_filter(concerns.check_ids, lambda c: c <> listed.check_id)), 0) AS other_concerns
    FROM listed
    LEFT JOIN magnitudes ON magnitudes.exception_id = listed.exception_id
    LEFT JOIN vulnerability ON vulnerability.person_id = listed.child_id
    LEFT JOIN concerns_per_child AS concerns ON concerns.person_id = listed.child_id
),

priorities AS (
    SELECT
        scored.*,
        round(
            CASE severity WHEN 'HIGH' THEN $weight_high WHEN 'MEDIUM' THEN $weight_medium ELSE $weight_low END
            + coalesce(excess, 0) * $weight_magnitude
            + least(days_open / 7.0 * $weight_week_open, $days_open_cap_points)
            + CASE WHEN child_protection THEN $weight_child_protection ELSE 0 END
            + CASE WHEN child_in_need THEN $weight_child_in_need ELSE 0 END
            + CASE WHEN has_ehcp THEN $weight_ehcp ELSE 0 END
            + CASE WHEN under_5 THEN $weight_under_5 ELSE 0 END
            + CASE WHEN harm_or_exploitation THEN $weight_harm_or_exploitation ELSE 0 END
            + least(other_concerns * $weight_other_concern, $other_concerns_cap_points),
        1) AS priority,
        concat_ws('; ',
            severity,
            CASE WHEN magnitude IS NOT NULL THEN
                -- e.g. "38 working days (limit 5)", "65.1 % of sessions missed (limit 10)"
                printf('%g', round(magnitude, 1)) || ' ' || magnitude_unit || ' (limit ' || printf('%g', threshold) || ')'
            END,
            CASE WHEN days_open >= 7 THEN 'listed ' || days_open || ' days' END,
            CASE WHEN child_protection THEN 'child protection (S47, ICPC or CP flag)' END,
            CASE WHEN under_5 THEN 'under 5' END,
            CASE WHEN harm_or_exploitation THEN 'self-harm or exploitation' END,
            CASE WHEN has_ehcp THEN 'EHCP' END,
            CASE WHEN child_in_need THEN 'Child in Need' END,
            CASE WHEN other_concerns = 1 THEN '1 other open concern'
                 WHEN other_concerns > 1 THEN other_concerns || ' other open concerns' END
        ) AS priority_reason
    FROM scored
),

organisations AS (
    SELECT exception_id, organisation_type, organisation, agency_record_ids
    FROM exception_agency_rows WHERE run_id = $run_id
),

child_has_nhs AS (
    SELECT DISTINCT person_id FROM person_identifiers WHERE identifier_type = 'NHS_NUMBER'
),

child_has_upn AS (
    SELECT DISTINCT person_id FROM person_identifiers WHERE identifier_type = 'UPN'
),

owners AS (
    SELECT
        priorities.exception_id,
        CASE
            WHEN priorities.agency = 'SOCIAL_CARE' THEN workers.worker_name
            WHEN organisations.organisation IS NOT NULL THEN
                CASE organisations.organisation_type WHEN 'GP_PRACTICE' THEN 'GP practice ' ELSE 'School ' END
                || organisations.organisation
            WHEN priorities.agency IN ('GP', 'EDUCATION') THEN NULL
            ELSE priorities.agency
        END AS owner_name,
        CASE
            WHEN priorities.agency = 'SOCIAL_CARE' THEN coalesce(workers.worker_team, 'Children''s social care')
            WHEN priorities.agency IN ('GP', 'EDUCATION') AND organisations.organisation IS NULL
                THEN priorities.agency || ' central queue'
            ELSE priorities.agency
        END AS owner_team,
        CASE WHEN priorities.agency = 'SOCIAL_CARE' THEN workers.professional_id END AS owner_professional_id,
        organisations.organisation,
        CASE WHEN priorities.agency IN ('GP', 'EDUCATION') AND organisations.organisation IS NULL THEN
            CASE
                WHEN priorities.child_id IS NULL THEN
                    'the record is linked to no child, so its '
                    || CASE priorities.agency WHEN 'GP' THEN 'practice' ELSE 'school' END || ' cannot be found'
                WHEN priorities.agency = 'GP' AND priorities.child_id NOT IN (SELECT person_id FROM child_has_nhs) THEN
                    'no valid NHS number is known for the child, so the practice cannot be found'
                WHEN priorities.agency = 'GP' THEN
                    'no GP registration current at ' || strftime(CAST($as_at AS DATE), '%Y-%m-%d') || ' for the child''s NHS number'
                WHEN priorities.child_id NOT IN (SELECT person_id FROM child_has_upn) THEN
                    'no valid UPN is known for the child, so the school cannot be found'
                ELSE 'no open EHCP or attendance record names the child''s school'
            END
        END AS central_queue_reason,
        workers.worker_name AS social_worker_name,
        workers.worker_team AS social_worker_team
    FROM priorities
    LEFT JOIN organisations ON organisations.exception_id = priorities.exception_id
    LEFT JOIN workers ON workers.person_id = priorities.child_id
)

SELECT
    $run_id,
    priorities.exception_id,
    priorities.child_id,
    priorities.priority,
    priorities.priority_reason,
    owners.owner_name,
    owners.owner_team,
    owners.owner_professional_id,
    owners.organisation,
    owners.central_queue_reason,
    owners.social_worker_name,
    owners.social_worker_team,
    plain_words(priorities.locator),
    plain_words(priorities.detail)
FROM priorities
JOIN owners ON owners.exception_id = priorities.exception_id;
INSERT INTO child_priority
WITH rows_of_children AS (
    SELECT triage.*, history.check_id, history.agency, history.severity
    FROM exception_triage AS triage
    JOIN exception_history AS history
      ON history.run_id = triage.run_id AND history.exception_id = triage.exception_id
    WHERE triage.run_id = $run_id AND triage.person_id IS NOT NULL
),
per_child AS (
    SELECT
        person_id,
        max(priority) AS priority,
        arg_max(priority_reason, (priority, exception_id)) AS top_reason,
        arg_max(exception_id, (priority, exception_id)) AS top_exception_id,
        count(DISTINCT check_id) AS open_concerns,
        count(*) AS open_exceptions,
        string_agg(DISTINCT agency, '; ' ORDER BY agency) AS agencies,
        any_value(social_worker_name) AS social_worker_name,
        any_value(social_worker_team) AS social_worker_team
    FROM rows_of_children
    GROUP BY person_id
),
concern_names AS (
    SELECT person_id,
           string_agg(coalesce($check_titles[list_position($check_ids, check_id)], check_id), '; '
                      ORDER BY best DESC, check_id) AS concerns
    FROM (SELECT person_id, check_id, max(priority) AS best FROM rows_of_children GROUP BY person_id, check_id)
    GROUP BY person_id
)
SELECT
    $run_id,
    per_child.person_id,
    per_child.priority,
    per_child.top_reason,
    per_child.open_concerns,
    per_child.open_exceptions,
    per_child.agencies,
    concern_names.concerns,
    per_child.top_exception_id,
    per_child.social_worker_name,
    per_child.social_worker_team,
    row_number() OVER (ORDER BY per_child.priority DESC, per_child.open_concerns DESC, per_child.person_id)
FROM per_child
JOIN concern_names ON concern_names.person_id = per_child.person_id;
-- The same priority and owners on the run's history rows, where the web workspace reads them.
UPDATE exception_history AS history
SET priority = triage.priority, priority_reason = triage.priority_reason, owner_name = triage.owner_name,
    owner_team = triage.owner_team, owner_professional_id = triage.owner_professional_id,
    central_queue_reason = triage.central_queue_reason
FROM exception_triage AS triage
WHERE history.run_id = $run_id AND triage.run_id = $run_id AND triage.exception_id = history.exception_id;
