"""The model in the store: its parameters, training method and date (`linkage_model`), and the
precision and recall to expect at the configured thresholds (`linkage_expected_quality`).

Parameters and counts only: nothing here holds a name, date of birth or identifier, so
`caseflags links model` and the report's linkage section show it as it is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import duckdb

from caseflags.linkage.model import MODEL_COLUMNS, splink_model
from caseflags.linkage.private_db import private_database
from caseflags.linkage.scoring import TRAINING_RECORDS_SQL, quiet_splink, scores_sql

MODEL_COLUMNS_SQL = ", ".join(MODEL_COLUMNS)


def record_model(con: duckdb.DuckDBPyConnection, model: dict) -> None:
    """Replace `linkage_model` with the model's levels (caller holds or needs no transaction)."""
    training = model.get("caseflags_training", {})
    trained_at = training.get("trained_at")
    rows = []
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        for position, level in enumerate(levels):
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            rows.append(
                (
                    datetime.fromisoformat(trained_at) if trained_at else None,
                    training.get("method", "UNKNOWN"),
                    training.get("labelled_pairs"),
                    training.get("label_weight"),
                    " | ".join(training.get("em_sessions", [])),
                    model.get("probability_two_random_records_match"),
                    comparison["output_column_name"],
                    len(levels) - 1 - position,
                    level.get("label_for_charts"),
                    m,
                    u,
                    weight,
                )
            )
    con.execute("DELETE FROM linkage_model")
    con.executemany("INSERT INTO linkage_model VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def assessed_thresholds(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    return dict(con.execute("SELECT threshold_name, threshold FROM linkage_expected_quality").fetchall())


def assess_expected_quality(
    con: duckdb.DuckDBPyConnection, model: dict, match_threshold: float, review_threshold: float
) -> list[dict]:
    """Expected precision and recall at both thresholds, from clerical labels; kept in the store.

    Labels: a record identifiers link to one child, or an officer confirmed, is a true pair with
    that child and a non-match with every other child the model compares it with; an officer's
    rejection is a non-match. Those records are scored by the model as if no identifier had
    settled them. Precision = true pairs at or above the threshold / all labelled pairs there;
    recall = true pairs at or above it / all true pairs (a true pair blocking never reached
    counts as missed). Needs linkage's work tables (inside `link_people`). These records carry
    identifiers: they may be cleaner than the rest, so the figures are a guide, not a guarantee.
    """
    from splink import DuckDBAPI, Linker

    labelled = con.sql(
        f"""
        SELECT * FROM ({TRAINING_RECORDS_SQL}) AS records
        WHERE label IS NOT NULL OR unique_id IN (
            SELECT agency || '|' || agency_record_id FROM linkage_latest_decisions WHERE decision = 'REJECTED')
        """
    ).to_arrow_table()
    true_pairs = labelled.num_rows - labelled.column("label").null_count
    scored = None
    if true_pairs:
        children = con.sql(f"SELECT person_id AS unique_id, {MODEL_COLUMNS_SQL} FROM linkage_children").to_arrow_table()
        with quiet_splink(), private_database(con) as work:
            db_api = DuckDBAPI(work)
            linker = Linker(
                [
                    db_api.register(children, table_name="linkage_children_input"),
                    db_api.register(labelled.drop(["label", "carries_identifier"]), table_name="linkage_records_input"),
                ],
                {
                    **splink_model(model),
                    "retain_matching_columns": True,
                    "retain_intermediate_calculation_columns": True,
                },
                log_level=None,
                validate_settings=False,
            )
            predictions = linker.inference.predict(threshold_match_probability=0.01, warning_mode="never")
            scored = work.sql(scores_sql(predictions.physical_name)).to_arrow_table()
        con.register("linkage_labelled_scores", scored)
        con.register("linkage_labels", labelled.select(["unique_id", "label"]))
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE linkage_judged_labels AS
            SELECT s.match_probability,
                   coalesce(l.label = s.person_id, false) AS is_true,
                   (l.label IS NOT NULL AND l.label <> s.person_id) OR r.person_id IS NOT NULL AS is_false
            FROM linkage_labelled_scores AS s
            JOIN linkage_labels AS l ON l.unique_id = s.agency || '|' || s.agency_record_id
            LEFT JOIN (SELECT * FROM linkage_latest_decisions WHERE decision = 'REJECTED') AS r
                USING (agency, agency_record_id, person_id)
            """
        )
        con.unregister("linkage_labelled_scores")
        con.unregister("linkage_labels")
    results = []
    for name, threshold in (("match", match_threshold), ("review", review_threshold)):
        precision = recall = None
        non_matches = 0
        if scored is not None:
            found, wrong, non_matches = con.execute(
                """
                SELECT count(*) FILTER (WHERE is_true AND match_probability >= $t),
                       count(*) FILTER (WHERE is_false AND match_probability >= $t),
                       count(*) FILTER (WHERE is_false)
                FROM linkage_judged_labels
                """,
                {"t": threshold},
            ).fetchone()
            precision = round(found / (found + wrong), 5) if found + wrong else None
            recall = round(found / true_pairs, 5)
        results.append(
            {
                "threshold_name": name,
                "threshold": threshold,
                "labelled_pairs": true_pairs,
                "labelled_non_matches": non_matches,
                "expected_precision": precision,
                "expected_recall": recall,
                "basis": "identifier-settled pairs and officers' decisions, scored by the model"
                if true_pairs
                else "no clerical labels: not estimated",
            }
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("DELETE FROM linkage_expected_quality")
    con.executemany(
        "INSERT INTO linkage_expected_quality VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                now,
                r["threshold_name"],
                r["threshold"],
                r["labelled_pairs"],
                r["labelled_non_matches"],
                r["expected_precision"],
                r["expected_recall"],
                r["basis"],
            )
            for r in results
        ],
    )
    return results


def describe_model(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The stored model for people to read (CLI, report): None when linkage never trained one."""
    head = con.execute(
        """
        SELECT trained_at, training_method, labelled_pairs, label_weight, em_sessions,
               probability_two_random_records_match
        FROM linkage_model LIMIT 1
        """
    ).fetchone()
    if head is None:
        return None
    levels = con.execute(
        """
        SELECT comparison, gamma, level_label, m_probability, u_probability, match_weight
        FROM linkage_model ORDER BY comparison, gamma DESC
        """
    ).fetchall()
    quality = con.execute(
        """
        SELECT threshold_name, threshold, labelled_pairs, labelled_non_matches, expected_precision,
               expected_recall, basis, assessed_at
        FROM linkage_expected_quality ORDER BY threshold DESC
        """
    ).fetchall()
    return {
        "trained_at": head[0].isoformat(sep=" ") if head[0] else None,
        "training_method": head[1],
        "labelled_pairs": head[2],
        "label_weight": head[3],
        "em_sessions": [s for s in (head[4] or "").split(" | ") if s],
        "probability_two_random_records_match": head[5],
        "levels": [
            dict(zip(("comparison", "gamma", "label", "m_probability", "u_probability", "match_weight"), row))
            for row in levels
        ],
        "expected_quality": [
            dict(
                zip(
                    (
                        "threshold_name",
                        "threshold",
                        "labelled_pairs",
                        "labelled_non_matches",
                        "expected_precision",
                        "expected_recall",
                        "basis",
                        "assessed_at",
                    ),
                    row,
                )
            )
            for row in quality
        ],
    }
