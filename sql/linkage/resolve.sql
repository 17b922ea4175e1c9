-- Person linkage, part 2: the model's scores (linkage_scores, pairs at or above the review
-- threshold) settle the records identifiers could not, then links, possible matches,
-- identifiers and conflicts are derived. Parameters: $match_threshold, $review_threshold.

-- The model's pairs an officer has not rejected, with what stands in the way of accepting one.
-- Never a pair, whatever the score (never-match): the record carries a valid NHS number (UPN)
-- and social care holds others, not it, for the child. Sibling-shaped: the same surname and
-- postcode with a clearly different forename (no nickname, not near, more than one edit apart): another child of the
-- household (a twin when the date of birth is the same too). A sibling is never linked
-- automatically; a twin-shaped pair only when its household probability (below, not the raw
-- score the shared fields give) reaches the match threshold, which it cannot where the data hold
-- twins, and never when the sex differs.
CREATE OR REPLACE TEMP TABLE linkage_scored_pairs AS
-- The record's view (one to one): a record is some child's with the share of records that have
-- a true child (s = prior x children, below 1), that child any of them; so a pair's odds are
-- prior x its Bayes factor against (1 - s) + prior x the Bayes factors of every child scored
-- for the record. Where most records have a child (FEBRL 4) this lifts a lone candidate; where
-- two children compete for a record, it lowers both.
WITH record_view AS (
    SELECT *,
           log2($prior_probability / (1 - $prior_probability)) AS prior_weight,
           sum(pow(2, match_weight - log2($prior_probability / (1 - $prior_probability))))
               OVER (PARTITION BY agency, agency_record_id) AS record_bayes_factors
    FROM linkage_scores
),
rescored AS (
    SELECT * REPLACE (
               log2($prior_probability * pow(2, match_weight - prior_weight))
               - log2((1 - $record_share) + $prior_probability * record_bayes_factors
                      - $prior_probability * pow(2, match_weight - prior_weight)) AS match_weight,
               1 / (1 + ((1 - $record_share) + $prior_probability * record_bayes_factors
                         - $prior_probability * pow(2, match_weight - prior_weight))
                        / ($prior_probability * pow(2, match_weight - prior_weight))) AS match_probability)
    FROM record_view
),
unrejected AS (
    SELECT scores.* EXCLUDE (prior_weight, record_bayes_factors)
    FROM rescored AS scores
    ANTI JOIN (SELECT * FROM linkage_latest_decisions WHERE decision = 'REJECTED') AS rejected
        USING (agency, agency_record_id, person_id)
    WHERE scores.match_probability >= $review_threshold
),
record_identifiers AS (
    SELECT unrejected.agency, unrejected.agency_record_id, unrejected.person_id, record.nhs_number, record.upn
    FROM unrejected
    JOIN linkage_records AS record USING (agency, agency_record_id)
    WHERE record.nhs_number IS NOT NULL OR record.upn IS NOT NULL
),
disagreeing AS (
    SELECT DISTINCT agency, agency_record_id, person_id
    FROM (
        SELECT pair.agency, pair.agency_record_id, pair.person_id
        FROM record_identifiers AS pair
        JOIN linkage_child_identifier_claims AS held
          ON held.person_id = pair.person_id AND held.identifier_type = 'NHS_NUMBER'
        WHERE pair.nhs_number IS NOT NULL
        GROUP BY pair.agency, pair.agency_record_id, pair.person_id, pair.nhs_number
        HAVING NOT bool_or(held.identifier_value = pair.nhs_number)
        UNION ALL
        SELECT pair.agency, pair.agency_record_id, pair.person_id
        FROM record_identifiers AS pair
        JOIN linkage_child_identifier_claims AS held
          ON held.person_id = pair.person_id AND held.identifier_type = 'UPN'
        WHERE pair.upn IS NOT NULL
        GROUP BY pair.agency, pair.agency_record_id, pair.person_id, pair.upn
        HAVING NOT bool_or(held.identifier_value = pair.upn)
    )
),
already_linked_in_agency AS (
    SELECT DISTINCT agency, person_id FROM linkage_confirmed WHERE children_for_record = 1
    UNION
    SELECT DISTINCT agency, person_id FROM linkage_deterministic WHERE children_for_record = 1
    UNION
    SELECT DISTINCT agency, person_id FROM linkage_name_dob
),
-- How often each file (LA children; each agency's records) holds two children of one household
-- that look alike: the share of its rows sharing surname, postcode and date of birth with
-- another of its rows under another forename (twins), or surname and postcode under another
-- forename and date of birth (siblings); and how often it holds one person twice (the same
-- forename, surname and date of birth: a duplicate registration). Each at least 3 / rows (the
-- rule of three: none seen in n rows still leaves up to 3 / n).
-- Only the files that hold a household-shaped pair are counted (none: nothing to count).
household_agencies AS (
    SELECT DISTINCT agency FROM unrejected
    WHERE gamma_surname = 4 AND gamma_postcode = 3 AND gamma_forename = 0 AND NOT forenames_close
),
household_rows AS (
    SELECT 'SOCIAL_CARE' AS source, forename, surname, dob, postcode FROM linkage_children
    WHERE EXISTS (SELECT 1 FROM household_agencies)
    UNION ALL
    SELECT agency, forename, surname, dob, postcode FROM linkage_records
    WHERE agency IN (SELECT agency FROM household_agencies)
),
rows_by_source AS (
    SELECT source, count(*)::DOUBLE AS n FROM household_rows GROUP BY source
),
twin_rows AS (  -- rows in a (surname, DOB, postcode) group holding more than one forename
    SELECT source, sum(n) AS n
    FROM (SELECT source, count(*) AS n FROM household_rows
          WHERE surname IS NOT NULL AND dob IS NOT NULL AND postcode IS NOT NULL AND forename IS NOT NULL
          GROUP BY source, surname, dob, postcode HAVING min(forename) <> max(forename))
    GROUP BY source
),
sibling_rows AS (  -- rows in a (surname, postcode) group holding more than one forename and DOB
    SELECT source, sum(n) AS n
    FROM (SELECT source, count(*) AS n FROM household_rows
          WHERE surname IS NOT NULL AND dob IS NOT NULL AND postcode IS NOT NULL AND forename IS NOT NULL
          GROUP BY source, surname, postcode HAVING min(forename) <> max(forename) AND min(dob) <> max(dob))
    GROUP BY source
),
duplicate_rows AS (  -- rows sharing forename, surname and DOB with another row of their file
    SELECT source, sum(n) AS n
    FROM (SELECT source, count(*) AS n FROM household_rows
          WHERE surname IS NOT NULL AND dob IS NOT NULL AND forename IS NOT NULL
          GROUP BY source, forename, surname, dob HAVING count(*) > 1)
    GROUP BY source
),
rates_by_source AS (
    SELECT rows_by_source.source,
           greatest(coalesce(twin_rows.n, 0), 3) / rows_by_source.n AS twin_rate,
           greatest(coalesce(sibling_rows.n, 0), 3) / rows_by_source.n AS sibling_rate,
           greatest(coalesce(duplicate_rows.n, 0), 3) / rows_by_source.n AS duplicate_rate
    FROM rows_by_source
    LEFT JOIN twin_rows USING (source)
    LEFT JOIN sibling_rows USING (source)
    LEFT JOIN duplicate_rows USING (source)
),
-- A twin (sibling) of an LA child is as likely in an agency's index as among the LA's own
-- children: the higher of the two rates (the cautious one) stands for the agency.
household_rates AS (
    SELECT agency_rates.source AS agency,
           greatest(agency_rates.twin_rate, coalesce(la.twin_rate, 0)) AS twin_rate,
           greatest(agency_rates.sibling_rate, coalesce(la.sibling_rate, 0)) AS sibling_rate,
           agency_rates.duplicate_rate
    FROM rates_by_source AS agency_rates
    LEFT JOIN rates_by_source AS la ON la.source = 'SOCIAL_CARE'
),
judged AS (
    SELECT unrejected.*,
           (gamma_surname = 4 AND gamma_postcode = 3 AND gamma_forename = 0 AND NOT forenames_close) AS household_shaped,
           (gamma_surname = 4 AND gamma_postcode = 3 AND gamma_forename = 0 AND NOT forenames_close
            AND gamma_dob = 3) AS twin_shaped,
           linked.person_id IS NOT NULL AS child_linked_in_agency,
           -- The child already has a better record of this agency: this one would be a second.
           linked.person_id IS NOT NULL
             OR max(match_weight) OVER (PARTITION BY agency, person_id) > match_weight AS child_has_better_record,
           rates.twin_rate, rates.sibling_rate, rates.duplicate_rate,
           disagreeing.person_id IS NOT NULL AS identifier_disagrees
    FROM unrejected
    LEFT JOIN disagreeing USING (agency, agency_record_id, person_id)
    LEFT JOIN already_linked_in_agency AS linked USING (agency, person_id)
    LEFT JOIN household_rates AS rates USING (agency)
)
SELECT
    judged.*,
    household_shaped AND NOT twin_shaped AS sibling_shaped,
    -- Within one household, surname and postcode (and, for twins, the date of birth) are shared
    -- by different children, so their agreement is no evidence. What is: the odds that the
    -- record is the child's own (share of records with a true child x how often a true match
    -- carries a clearly different forename; x how often the agency holds one person twice, when
    -- the child already has a better record there) against it being a twin (sibling) as often
    -- as the agency's own records show; then sex, and a date of birth that differs.
    CASE WHEN household_shaped THEN
        log2($record_share * $m_forename_differs)
        + CASE WHEN child_has_better_record THEN log2(duplicate_rate) ELSE 0 END
        - log2(CASE WHEN twin_shaped THEN twin_rate ELSE sibling_rate END)
        + weight_sex + CASE WHEN twin_shaped THEN 0 ELSE least(weight_dob, 0) END
    ELSE match_weight END AS offered_weight
FROM judged;

-- The probability each pair is offered with: its match weight (log2 of the odds), as odds.
CREATE OR REPLACE TEMP TABLE linkage_scored_pairs AS
SELECT *, CASE WHEN household_shaped THEN 1 / (1 + pow(2, -offered_weight)) ELSE match_probability END
              AS offered_probability
FROM linkage_scored_pairs;

-- The threshold is on the match weight: log2 of the odds that the record is the child, all
-- evidence counted. match_threshold 0.99 is a weight of log2(0.99 / 0.01) = 6.63: the record is
-- at least 99 times as likely to be the child as not.
-- One to one: a record links to at most one child and a child to at most one record of each
-- agency. Pairs at or above the match threshold compete; each round accepts the pairs that are
-- strictly the best (by match weight) for their record and for their child within the agency
-- among those left (caseflags/linkage/people.py runs rounds until none is added).
CREATE OR REPLACE TEMP TABLE linkage_eligible_pairs AS
SELECT agency, agency_record_id, person_id, offered_probability AS match_probability, offered_weight AS match_weight
FROM linkage_scored_pairs
WHERE offered_weight >= $match_weight_threshold
  AND NOT identifier_disagrees
  AND NOT sibling_shaped
  AND NOT (twin_shaped AND NOT agrees_on_identity)
  AND NOT child_linked_in_agency;

CREATE OR REPLACE TEMP TABLE linkage_accepted_pairs (
    agency VARCHAR, agency_record_id VARCHAR, person_id VARCHAR, match_probability DOUBLE, match_weight DOUBLE
);

