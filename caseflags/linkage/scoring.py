"""Scoring: splink compares the records no identifier settled with the children, in a private
in-memory database (the store never sees splink's working tables; only ids, probabilities and
agreement levels leave it)."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import duckdb

from caseflags.linkage.model import MODEL_COLUMNS, load_model, save_model, splink_model, train_model

# What each comparison level means, for the evidence shown to officers (no values, only agreement).
# Keys are splink's gamma values: -1 is "missing on one side", then levels from best down to 0.
EVIDENCE_LEVELS = {
    "forename": {
        -1: "forename missing", 5: "forename same", 4: "forename near", 3: "forename a nickname",
        2: "forename is the other surname", 1: "forename similar", 0: "forename differs",
    },
    "surname": {
        -1: "surname missing", 4: "surname same", 3: "surname near", 2: "surname is the other forename",
        1: "surname similar", 0: "surname differs",
    },
    "dob": {
        -1: "DOB missing", 3: "DOB same", 2: "DOB day/month swapped", 1: "DOB one character apart", 0: "DOB differs",
    },
    "sex": {-1: "sex missing", 1: "sex same", 0: "sex differs"},
    "postcode": {
        -1: "postcode missing", 3: "postcode same", 2: "postcode sector same",
        1: "postcode district same", 0: "postcode differs",
    },
}

TRAINING_RECORDS_SQL = f"""
SELECT record.agency || '|' || record.agency_record_id AS unique_id,
       {', '.join('record.' + c for c in MODEL_COLUMNS)},
       coalesce(confirmed.person_id, deterministic.person_id) AS label,
       (record.nhs_number IS NOT NULL OR record.upn IS NOT NULL
        OR record.la_person_id IS NOT NULL) AS carries_identifier
FROM linkage_records AS record
LEFT JOIN (SELECT * FROM linkage_deterministic WHERE children_for_record = 1) AS deterministic
    USING (agency, agency_record_id)
LEFT JOIN (SELECT * FROM linkage_confirmed WHERE children_for_record = 1) AS confirmed
    USING (agency, agency_record_id)
"""


def score_unresolved_records(con, *, model_path, retrain, seed, review_threshold, use_em=True):
    """Score unresolved records against children with splink in a private in-memory database.

    Returns (arrow table of agency, agency_record_id, person_id, match_probability, evidence;
    model status "trained" / "loaded"; the model dict).
    """
    children = con.sql(
        f"SELECT person_id AS unique_id, {', '.join(MODEL_COLUMNS)}, person_id AS label FROM linkage_children"
    ).to_arrow_table()
    unresolved = con.sql(
        f"SELECT agency || '|' || agency_record_id AS unique_id, {', '.join(MODEL_COLUMNS)} "
        "FROM linkage_unresolved_records"
    ).to_arrow_table()

    with quiet_splink(), duckdb.connect() as work:
        from splink import DuckDBAPI, Linker

        model = load_model(model_path) if (model_path is not None and not retrain) else None
        status = "loaded"
        if model is None:
            # Training sees every record: those identifiers link carry their child as a label.
            labelled = con.sql(TRAINING_RECORDS_SQL).to_arrow_table()
            model = train_model(DuckDBAPI(work), children, labelled, seed, use_em=use_em)
            status = "trained"
            if model_path is not None:
                save_model(model, model_path)

        if unresolved.num_rows == 0:  # retrained on request; nothing to score
            return work.sql(scores_sql(None)).to_arrow_table(), status, model
        # Intermediate columns: each field's match weight (and name frequency adjustment), kept
        # as the pair's per-field match weights (splink's waterfall) for "why linked".
        settings = {**splink_model(model), "retain_matching_columns": True,
                    "retain_intermediate_calculation_columns": True}
        db_api = DuckDBAPI(work)
        linker = Linker(
            [
                db_api.register(children.drop(["label"]), table_name="linkage_children_input"),
                db_api.register(unresolved, table_name="linkage_records_input"),
            ],
            settings,
            log_level=None,
        )
        # The exact review threshold is applied in SQL; splink only needs to drop the bulk of pairs
        # (it cannot take a threshold of 1).
        predictions = linker.inference.predict(
            threshold_match_probability=min(review_threshold, 0.5), warning_mode="never"
        )
        scores = work.sql(scores_sql(predictions.physical_name)).to_arrow_table()
    return scores, status, model


COMPARISONS = tuple(EVIDENCE_LEVELS)
SCORE_COLUMNS = (
    "agency VARCHAR, agency_record_id VARCHAR, person_id VARCHAR, match_probability DOUBLE, evidence VARCHAR, "
    "agrees_on_identity BOOLEAN, forenames_close BOOLEAN, match_weight DOUBLE, "
    + ", ".join(f"gamma_{c} INTEGER" for c in COMPARISONS) + ", "
    + ", ".join(f"weight_{c} DOUBLE" for c in COMPARISONS)
)


def scores_sql(predictions_table: str | None, *, with_weights: bool = True) -> str:
    """Pairs as (agency, record, child): probability, evidence, match weight, and each field's
    agreement level and match weight (log2 of its Bayes factor, name frequency included)."""
    if predictions_table is None:
        return f"SELECT * FROM (SELECT {', '.join('NULL::' + c.split()[1] + ' AS ' + c.split()[0] for c in SCORE_COLUMNS.split(', '))}) WHERE false"
    evidence_parts = []
    for column, levels in EVIDENCE_LEVELS.items():
        cases = " ".join(f"WHEN {gamma} THEN '{text}'" for gamma, text in levels.items())
        evidence_parts.append(f"CASE gamma_{column} {cases} END")
    # Sex not different (missing is no evidence): tells a child's own duplicate record from a
    # twin's of the other sex. A forename cannot alone: damaged copies (FEBRL's) carry whole
    # other forenames as often as twins do.
    agrees = "(gamma_sex <> 0)"
    gammas = ", ".join(f"gamma_{c}" for c in COMPARISONS)
    if with_weights:
        weights = ", ".join(
            f"(mw_{c}{' + coalesce(mw_tf_adj_' + c + ', 0)' if c in ('forename', 'surname') else ''}) AS weight_{c}"
            for c in COMPARISONS
        )
    else:
        weights = ", ".join(f"NULL::DOUBLE AS weight_{c}" for c in COMPARISONS)
    # splink orders each pair by source dataset name: children ("linkage_children_input") are left.
    return f"""
        WITH pairs AS (
            SELECT
                CASE WHEN source_dataset_l = 'linkage_children_input' THEN unique_id_r ELSE unique_id_l END AS record_key,
                CASE WHEN source_dataset_l = 'linkage_children_input' THEN unique_id_l ELSE unique_id_r END AS person_id,
                match_probability, match_weight,
                concat_ws('; ', {', '.join(evidence_parts)}) AS evidence,
                {agrees} AS agrees_on_identity,
                -- One edit apart ("Iy" for "Ivy"): a slip, not clearly another child's forename.
                coalesce(damerau_levenshtein(forename_l, forename_r) <= 1, false) AS forenames_close,
                {gammas}, {weights}
            FROM {predictions_table}
            WHERE source_dataset_l = 'linkage_children_input' OR source_dataset_r = 'linkage_children_input'
        )
        SELECT split_part(record_key, '|', 1) AS agency,
               substr(record_key, strpos(record_key, '|') + 1) AS agency_record_id,
               person_id, match_probability, evidence, agrees_on_identity, forenames_close, match_weight,
               {gammas}, {', '.join(f'weight_{c}' for c in COMPARISONS)}
        FROM pairs
    """


@contextmanager
def quiet_splink():
    """Silence splink below WARNING: its INFO messages can echo sample rows."""
    splink_logger = logging.getLogger("splink")
    previous = splink_logger.level
    splink_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        splink_logger.setLevel(previous)
