"""Scoring: splink compares the records no identifier settled with the children, in a private
in-memory database (the store never sees splink's working tables; only ids, probabilities and
agreement levels leave it)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from contextlib import contextmanager

import pyarrow as pa

from caseflags.linkage.model import (
    MODEL_COLUMNS,
    load_model,
    save_model,
    settings_dict,
    splink_model,
    train_model,
)
from caseflags.linkage.private_db import private_database
from caseflags.resources import SQL_DIR

# What each comparison level means, for the evidence shown to officers (no values, only agreement).
# Keys are splink's gamma values: -1 is "missing on one side", then levels from best down to 0.
EVIDENCE_LEVELS = {
    "forename": {
        -1: "forename missing",
        5: "forename same",
        4: "forename near",
        3: "forename a nickname",
        2: "forename is the other surname",
        1: "forename similar",
        0: "forename differs",
    },
    "surname": {
        -1: "surname missing",
        4: "surname same",
        3: "surname near",
        2: "surname is the other forename",
        1: "surname similar",
        0: "surname differs",
    },
    "dob": {
        -1: "DOB missing",
        3: "DOB same",
        2: "DOB day/month swapped",
        1: "DOB one character apart",
        0: "DOB differs",
    },
    "sex": {-1: "sex missing", 1: "sex same", 0: "sex differs"},
    "postcode": {
        -1: "postcode missing",
        3: "postcode same",
        2: "postcode sector same",
        1: "postcode district same",
        0: "postcode differs",
    },
}

CHILDREN_SQL = f"SELECT person_id AS unique_id, {', '.join(MODEL_COLUMNS)}, person_id AS label FROM linkage_children"
UNRESOLVED_SQL = (
    f"SELECT agency || '|' || agency_record_id AS unique_id, {', '.join(MODEL_COLUMNS)} FROM linkage_unresolved_records"
)
SCORE_PLAN_SQL = SQL_DIR / "linkage" / "score_plan.sql"
KEEP_SCORES_SQL = SQL_DIR / "linkage" / "keep_scores.sql"

TRAINING_RECORDS_SQL = f"""
SELECT record.agency || '|' || record.agency_record_id AS unique_id,
       {", ".join("record." + c for c in MODEL_COLUMNS)},
       coalesce(confirmed.person_id, deterministic.person_id) AS label,
       (record.nhs_number IS NOT NULL OR record.upn IS NOT NULL
        OR record.la_person_id IS NOT NULL) AS carries_identifier
FROM linkage_records AS record
LEFT JOIN (SELECT * FROM linkage_deterministic WHERE children_for_record = 1) AS deterministic
    USING (agency, agency_record_id)
LEFT JOIN (SELECT * FROM linkage_confirmed WHERE children_for_record = 1) AS confirmed
    USING (agency, agency_record_id)
"""


def score_unresolved_records(con, *, model_path, retrain, seed, review_threshold, use_em=True, incremental=True):
    """Score unresolved records against children with splink in a private in-memory database.

    Incremental (issue 28, `incremental`): only records (children) whose compared fields changed
    since the last scoring by this model are scored (new or changed records against every child,
    changed children against the other records); the kept pairs of unchanged records and children
    are last time's scores (store tables `link_pair_scores`, ...). A pair's score depends on the
    pair and the model alone: the name frequencies splink adjusts exact name matches by are
    frozen in the model (`term_frequencies`), so a night scored in part gives the same scores as
    one scored whole.

    Returns (arrow table of agency, agency_record_id, person_id, match_probability, evidence, ...;
    model status "trained" / "loaded"; the model dict; counts of what was scored).
    """
    with quiet_splink(), private_database(con) as work:
        from splink import DuckDBAPI

        model = load_model(model_path) if (model_path is not None and not retrain) else None
        status = "loaded"
        if model is None:
            # Training sees every record: those identifiers link carry their child as a label.
            children = con.sql(CHILDREN_SQL).to_arrow_table()
            labelled = con.sql(TRAINING_RECORDS_SQL).to_arrow_table()
            model = train_model(DuckDBAPI(work), children, labelled, seed, use_em=use_em)
            status = "trained"
        if TERM_FREQUENCIES not in model:
            model[TERM_FREQUENCIES] = term_frequencies(
                con, con.sql(CHILDREN_SQL).to_arrow_table(), con.sql(UNRESOLVED_SQL).to_arrow_table()
            )
            if model_path is not None:
                save_model(model, model_path)
        key = model_key(model, review_threshold)
        _run_sql_file(con, SCORE_PLAN_SQL, {"model_key": key if incremental else ""})
        plan = [  # (children, records) to score
            (
                con.sql(CHILDREN_SQL).to_arrow_table(),
                con.sql(
                    UNRESOLVED_SQL + " SEMI JOIN linkage_records_to_score USING (agency, agency_record_id)"
                ).to_arrow_table(),
            ),
            (
                con.sql(CHILDREN_SQL + " SEMI JOIN linkage_children_to_score USING (person_id)").to_arrow_table(),
                con.sql(
                    UNRESOLVED_SQL + " ANTI JOIN linkage_records_to_score USING (agency, agency_record_id)"
                ).to_arrow_table(),
            ),
        ]
        parts = [con.sql("SELECT * FROM linkage_kept_scores").to_arrow_table()]
        for children, records in plan:
            if children.num_rows and records.num_rows:
                parts.append(_predict(con, model, children, records, review_threshold))
        counts = {
            "records_scored": plan[0][1].num_rows,
            "children_rescored": plan[1][0].num_rows,
            "pairs_kept": parts[0].num_rows,
            "model_key": key,
        }
    scores = pa.concat_tables([part.cast(parts[0].schema) for part in parts])
    return scores, status, model, counts


def _predict(con, model: dict, children, records, review_threshold: float):
    """splink's scores of every blocked (child, record) pair of these two tables (each call in
    its own private database, within the store connection `con`'s memory limit)."""
    with private_database(con) as work:
        return _predict_in(work, model, children, records, review_threshold)


def _predict_in(work, model: dict, children, records, review_threshold: float):
    from splink import DuckDBAPI, Linker

    # Intermediate columns: each field's match weight (and name frequency adjustment), kept
    # as the pair's per-field match weights (splink's waterfall) for "why linked".
    settings = {**splink_model(model), "retain_matching_columns": True, "retain_intermediate_calculation_columns": True}
    db_api = DuckDBAPI(work)
    linker = Linker(
        [
            db_api.register(children.drop(["label"]), table_name="linkage_children_input"),
            db_api.register(records, table_name="linkage_records_input"),
        ],
        settings,
        log_level=None,
        validate_settings=False,
    )
    for column, lookup in frozen_lookups(work, model, children, records).items():
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    # The exact review threshold is applied in SQL; splink only needs to drop the bulk of pairs
    # (it cannot take a threshold of 1).
    predictions = linker.inference.predict(threshold_match_probability=min(review_threshold, 0.5), warning_mode="never")
    return work.sql(scores_sql(predictions.physical_name)).to_arrow_table()


# Name frequencies kept in the model file: by a digest of the name (no name in the file).
TERM_FREQUENCIES = "caseflags_term_frequencies"
TF_COLUMNS = ("forename", "surname")
SCORING_VERSION = 1  # bump when scores_sql or the scored columns change: kept scores are then redone


def term_frequencies(con, children, records) -> dict[str, dict[str, float]]:
    """splink's own term frequency of each forename and surname among these children and records
    (what it would compute scoring them), keyed by the name's digest; worked out within the store
    connection `con`'s memory limit."""
    with private_database(con) as work:
        return _term_frequencies_in(work, children, records)


def _term_frequencies_in(work, children, records) -> dict[str, dict[str, float]]:
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(work)
    linker = Linker(
        [
            db_api.register(children.drop(["label"]), table_name="linkage_children_input"),
            db_api.register(records, table_name="linkage_records_input"),
        ],
        settings_dict(0.001),
        log_level=None,
        validate_settings=False,
    )
    frequencies = {}
    for column in TF_COLUMNS:
        table = linker.table_management.compute_tf_table(column)
        rows = work.sql(f"SELECT md5({column}), tf_{column} FROM {table.physical_name}").fetchall()
        frequencies[column] = dict(sorted(rows))
    return frequencies


def frozen_lookups(work, model: dict, children, records) -> dict:
    """The model's frozen frequencies for the names of these children and records, as splink's
    lookup tables ({column: arrow table of the name and tf_<name>}); a name the model has not
    seen gets none (splink then makes no frequency adjustment)."""
    lookups = {}
    for column in TF_COLUMNS:
        frequencies = model[TERM_FREQUENCIES][column]
        known = pa.table(
            {
                "digest": pa.array(list(frequencies), pa.string()),
                "tf": pa.array(list(frequencies.values()), pa.float64()),
            }
        )
        names = pa.concat_arrays(
            [
                children.column(column).combine_chunks().cast(pa.string()),
                records.column(column).combine_chunks().cast(pa.string()),
            ]
        )
        work.register("linkage_tf_known", known)
        work.register("linkage_tf_names", pa.table({"name": names}))
        try:
            lookups[column] = work.sql(
                f"SELECT DISTINCT names.name AS {column}, known.tf AS tf_{column} FROM linkage_tf_names AS names "
                "JOIN linkage_tf_known AS known ON known.digest = md5(names.name)"
            ).to_arrow_table()
        finally:
            work.unregister("linkage_tf_known")
            work.unregister("linkage_tf_names")
    return lookups


def model_key(model: dict, review_threshold: float) -> str:
    """What a pair's score depends on besides the pair: the model (its frozen frequencies too),
    the threshold splink drops pairs below, and this code's version of the scores."""
    basis = json.dumps(
        {"model": model, "threshold": min(review_threshold, 0.5), "version": SCORING_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(basis.encode()).hexdigest()


COMPARISONS = tuple(EVIDENCE_LEVELS)
SCORE_COLUMNS = (
    "agency VARCHAR, agency_record_id VARCHAR, person_id VARCHAR, match_probability DOUBLE, evidence VARCHAR, "
    "agrees_on_identity BOOLEAN, forenames_close BOOLEAN, match_weight DOUBLE, "
    + ", ".join(f"gamma_{c} INTEGER" for c in COMPARISONS)
    + ", "
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
                concat_ws('; ', {", ".join(evidence_parts)}) AS evidence,
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
               {gammas}, {", ".join(f"weight_{c}" for c in COMPARISONS)}
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


def _run_sql_file(con, path, parameters: dict) -> None:
    """Each statement of the file (split on `;` at a line end) with the parameters it names."""
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    for statement in (part.strip() for part in re.split(r";\s*$", text, flags=re.MULTILINE)):
        if statement:
            used = {name: value for name, value in parameters.items() if f"${name}" in statement}
            con.execute(statement, used).fetchall()
