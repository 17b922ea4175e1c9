"""Person index: which partner record is which LA child.

Every check that crosses agencies joins through the tables built here, so this is the only
place people are matched (docs/LINKAGE.md):

1. deterministic: a valid NHS number or UPN held by social care for the child (on the person
   row, or among `ssd_linked_identifiers`), or the LA child id the partner recorded;
2. probabilistic: splink (DuckDB backend) on names, date of birth (a day/month swap allowed),
   sex and postcode for records no identifier settles. At or above `match_threshold` a pair
   is a link; between `review_threshold` and that it is a possible match for officers;
3. officers' decisions (`record_link_decision`) are kept across runs and win over both.

The splink model is trained from the data (u by random sampling, m from the pairs identifiers
already link), saved as JSON next to the store and reused by later runs unless `retrain=True`.
Plain functions, no Prefect. Nothing here logs names, dates of birth or identifiers.
"""

from __future__ import annotations

import json
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from caseflags.resources import SQL_DIR

log = logging.getLogger(__name__)

MACROS_SQL = SQL_DIR / "linkage_macros.sql"
NICKNAMES_SQL = SQL_DIR / "linkage_nicknames.sql"
DETERMINISTIC_SQL = SQL_DIR / "linkage_deterministic.sql"
RESOLVE_SQL = SQL_DIR / "linkage_resolve.sql"

METHODS = ("LA_ID", "OFFICER_CONFIRMED", "NHS_NUMBER", "UPN", "LINKED_IDENTIFIER", "LA_PERSON_ID", "PROBABILISTIC")
DECISIONS = ("CONFIRMED", "REJECTED")
DEFAULT_MATCH_THRESHOLD = 0.99
DEFAULT_REVIEW_THRESHOLD = 0.80
DEFAULT_SEED = 20261124
MODEL_FILE_NAME = "linkage_model.json"
# Below this many identifier-linked pairs the m probabilities are not learnt but taken as given.
MIN_LABELLED_PAIRS = 30
# Pairs sampled to estimate u: enough for stable estimates, small enough for a nightly run.
U_SAMPLE_PAIRS = 500_000
# Least m and u probabilities of a comparison level (see _with_probability_floors).
MIN_M_PROBABILITY = 0.002
MIN_U_PROBABILITY = 0.00001
# m probabilities (best level first, null level excluded) used when the data has too few
# identifier-linked pairs to learn them: hand-set, cautious guesses at how often a true match
# agrees at each level (most records agree exactly; slips are spread over the partial levels).
PRIOR_M_PROBABILITIES = {
    "forename": (0.85, 0.05, 0.04, 0.03, 0.03),
    "surname": (0.88, 0.06, 0.03, 0.03),
    "dob": (0.93, 0.02, 0.03, 0.02),
    "sex": (0.97, 0.03),
    "postcode": (0.60, 0.10, 0.10, 0.10, 0.10),
}

LINKAGE_TABLES_SQL = SQL_DIR / "linkage_tables.sql"

# The model's input: the same columns on both sides (children and partner records).
MODEL_COLUMNS = ("forename", "forename_forms", "surname", "dob", "dob_swapped", "sex", "postcode")

# What each comparison level means, for the evidence shown to officers (no values, only agreement).
# Keys are splink's gamma values: -1 is "missing on one side", then levels from best down to 0.
EVIDENCE_LEVELS = {
    "forename": {
        -1: "forename missing", 4: "forename same", 3: "forename near", 2: "forename a nickname",
        1: "forename similar", 0: "forename differs",
    },
    "surname": {
        -1: "surname missing", 3: "surname same", 2: "surname near", 1: "surname similar", 0: "surname differs",
    },
    "dob": {
        -1: "DOB missing", 3: "DOB same", 2: "DOB day/month swapped", 1: "DOB one character apart", 0: "DOB differs",
    },
    "sex": {-1: "sex missing", 1: "sex same", 0: "sex differs"},
    "postcode": {
        -1: "postcode missing", 4: "postcode same", 3: "postcode sector same",
        2: "postcode district same", 1: "postcode area same", 0: "postcode differs",
    },
}


@dataclass(frozen=True)
class LinkSummary:
    """Counts only (no personal data): safe to log and to show in a run record."""

    children: int
    agency_records: int
    links_by_method: dict[str, int] = field(default_factory=dict)
    possible_matches: int = 0
    conflicts: int = 0
    unlinked_records: int = 0
    model: str = "not needed"  # trained / loaded / not needed
    model_path: str | None = None

    @property
    def partner_links(self) -> int:
        return sum(n for method, n in self.links_by_method.items() if method != "LA_ID")


def ensure_linkage_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the review and conflict tables (decisions are kept: never dropped here)."""
    con.execute(LINKAGE_TABLES_SQL.read_text())


def default_model_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """`linkage_model.json` beside the store file; None for an in-memory store."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not rows or not rows[0][0]:
        return None
    return Path(rows[0][0]).resolve().parent / MODEL_FILE_NAME


def link_people(
    con: duckdb.DuckDBPyConnection,
    *,
    match_threshold: float = DEFAULT_MATCH_THRESHOLD,
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    model_path: Path | None = None,
    retrain: bool = False,
    seed: int = DEFAULT_SEED,
) -> LinkSummary:
    """(Re)build person_links, person_identifiers, link_candidates and link_conflicts.

    Reads ssd_person, ssd_address, ssd_linked_identifiers, agency_records and link_decisions.
    The four output tables are replaced in one transaction, so a failed run leaves the last
    good index in place.
    """
    if not 0 < review_threshold <= match_threshold <= 1:
        raise ValueError("need 0 < review_threshold <= match_threshold <= 1")
    ensure_linkage_tables(con)
    model_path = Path(model_path) if model_path is not None else default_model_path(con)
    try:
        con.execute(MACROS_SQL.read_text())
        con.execute(NICKNAMES_SQL.read_text())
        _run_sql_file(con, DETERMINISTIC_SQL)

        con.execute(
            "CREATE OR REPLACE TEMP TABLE linkage_scores (agency VARCHAR, agency_record_id VARCHAR, "
            "person_id VARCHAR, match_probability DOUBLE, evidence VARCHAR)"
        )
        model_status = "not needed"
        has_records = _count(con, "linkage_records") > 0
        if _count(con, "linkage_children") and (_count(con, "linkage_unresolved_records") or (retrain and has_records)):
            scores, model_status = _score_unresolved_records(
                con, model_path=model_path, retrain=retrain, seed=seed, review_threshold=review_threshold
            )
            con.register("linkage_scores_arrow", scores)
            con.execute("INSERT INTO linkage_scores SELECT * FROM linkage_scores_arrow")
            con.unregister("linkage_scores_arrow")

        _run_sql_file(
            con, RESOLVE_SQL, {"match_threshold": float(match_threshold), "review_threshold": float(review_threshold)}
        )
        _replace_outputs(con)
        summary = _summary(con, model_status, model_path)
    finally:
        _drop_work_tables(con)
    log.info(
        "linkage: %d children, %d partner records, links by method %s, %d possible matches, %d conflicts, model %s",
        summary.children, summary.agency_records, summary.links_by_method, summary.possible_matches,
        summary.conflicts, summary.model,
    )
    return summary


def possible_matches(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Pairs awaiting an officer's decision, most likely first (ids, probability and evidence only)."""
    ensure_linkage_tables(con)
    rows = con.execute(
        """
        SELECT agency, agency_record_id, person_id, match_probability, evidence
        FROM link_candidates
        ORDER BY match_probability DESC, agency, agency_record_id, person_id
        """
    ).fetchall()
    keys = ("agency", "agency_record_id", "person_id", "match_probability", "evidence")
    return [dict(zip(keys, row)) for row in rows]


def record_link_decision(
    con: duckdb.DuckDBPyConnection,
    agency: str,
    agency_record_id: str,
    person_id: str,
    decision: str,
    note: str | None = None,
    decided_by: str | None = None,
    decided_at: datetime | None = None,
) -> None:
    """Keep an officer's decision on a (partner record, LA child) pair.

    CONFIRMED makes the pair a link (method OFFICER_CONFIRMED) and settles the record;
    REJECTED stops the pair being linked or proposed again. The latest decision on a pair wins,
    and decisions win over identifiers and the model on every later run of `link_people`.
    The links themselves change on the next run.
    """
    decision = decision.strip().upper()
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    agency = agency.strip().upper()
    ensure_linkage_tables(con)
    if not con.execute(
        "SELECT count(*) FROM agency_records WHERE CAST(agency AS VARCHAR) = $agency AND agency_record_id = $record",
        {"agency": agency, "record": agency_record_id},
    ).fetchall()[0][0]:
        raise ValueError("no such agency record")
    if not con.execute(
        "SELECT count(*) FROM ssd_person WHERE pers_person_id = $person", {"person": person_id}
    ).fetchall()[0][0]:
        raise ValueError("no such LA child")
    con.execute(
        """
        INSERT INTO link_decisions
        SELECT coalesce(max(decision_seq), 0) + 1, $agency, $record, $person, $decision, $decided_at, $decided_by, $note
        FROM link_decisions
        """,
        {
            "agency": agency,
            "record": agency_record_id,
            "person": person_id,
            "decision": decision,
            "decided_at": decided_at or datetime.now(timezone.utc).replace(tzinfo=None),
            "decided_by": decided_by,
            "note": note,
        },
    ).fetchall()


# -- probabilistic matching ---------------------------------------------------------------


def _score_unresolved_records(con, *, model_path, retrain, seed, review_threshold):
    """Score unresolved records against children with splink in a private in-memory database.

    Returns (arrow table of agency, agency_record_id, person_id, match_probability, evidence,
    model status). The store never sees splink's working tables.
    """
    children = con.sql(
        f"SELECT person_id AS unique_id, {', '.join(MODEL_COLUMNS)}, person_id AS label FROM linkage_children"
    ).to_arrow_table()
    unresolved = con.sql(
        f"SELECT agency || '|' || agency_record_id AS unique_id, {', '.join(MODEL_COLUMNS)} "
        "FROM linkage_unresolved_records"
    ).to_arrow_table()

    with _quiet_splink(), duckdb.connect() as work:
        from splink import DuckDBAPI, Linker

        model = _load_model(model_path) if (model_path is not None and not retrain) else None
        status = "loaded"
        if model is None:
            # Training sees every record: those identifiers link carry their child as a label.
            labelled = con.sql(
                f"""
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
            ).to_arrow_table()
            model = _train_model(DuckDBAPI(work), children, labelled, seed)
            status = "trained"
            if model_path is not None:
                _save_model(model, model_path)

        if unresolved.num_rows == 0:  # retrained on request; nothing to score
            return work.sql(_scores_sql(None)).to_arrow_table(), status
        model = {**model, "retain_matching_columns": True, "retain_intermediate_calculation_columns": False}
        db_api = DuckDBAPI(work)
        linker = Linker(
            [
                db_api.register(children.drop(["label"]), table_name="linkage_children_input"),
                db_api.register(unresolved, table_name="linkage_records_input"),
            ],
            model,
            log_level=None,
        )
        # The exact review threshold is applied in SQL; splink only needs to drop the bulk of pairs
        # (it cannot take a threshold of 1).
        predictions = linker.inference.predict(
            threshold_match_probability=min(review_threshold, 0.5), warning_mode="never"
        )
        scores = work.sql(_scores_sql(predictions.physical_name)).to_arrow_table()
    return scores, status


def _model_settings(probability_two_random_records_match: float):
    """The model's definition (a splink SettingsCreator): comparisons, levels and blocking rules."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    forename = cl.CustomComparison(
        output_column_name="forename",
        comparison_levels=[
            cll.NullLevel("forename"),
            cll.ExactMatchLevel("forename"),
            cll.JaroWinklerLevel("forename", 0.92),
            cll.ArrayIntersectLevel("forename_forms", 1).configure(label_for_charts="Nickname of one another"),
            cll.JaroWinklerLevel("forename", 0.80),
            cll.ElseLevel(),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            cll.ExactMatchLevel("surname"),
            cll.JaroWinklerLevel("surname", 0.92),
            cll.JaroWinklerLevel("surname", 0.80),
            cll.ElseLevel(),
        ],
    )

    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel("dob_l = dob_swapped_r", label_for_charts="Day and month swapped"),
            cll.DamerauLevenshteinLevel("dob", 1),
            cll.ElseLevel(),
        ],
    )
    settings = SettingsCreator(
        link_type="link_only",
        linker_uid="caseflags_person_index",  # fixed, so a retrained model on the same data is identical
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[
            forename,
            surname,
            dob,
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
        ],
        # Candidate pairs: a child and a record sharing one of these. Each stays small on an
        # authority's data (a birth date is shared by a handful of children).
        blocking_rules_to_generate_predictions=[
            block_on("dob"),
            "l.dob = r.dob_swapped",
            block_on("surname", "substr(forename, 1, 1)", "substr(dob, 1, 4)"),
            block_on("forename", "postcode"),
            block_on("postcode", "substr(dob, 1, 7)"),
        ],
        # splink keeps the gamma_* (agreement level) columns only alongside the compared values;
        # those stay in the private work database and only the levels leave it, as evidence.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=[],
    )
    return settings


def _train_model(db_api, children, labelled_records, seed: int) -> dict:
    """Estimate u by random sampling and m from identifier-linked pairs; return the model dict.

    m is learnt from pairs the identifiers (or officers) already link rather than by EM: those
    are true matches with the same slips as the rest, and the estimate is exact and repeatable.
    """
    from splink import Linker

    import pyarrow.compute as pc

    children_count = children.num_rows
    labelled_count = labelled_records.num_rows - labelled_records.column("label").null_count
    carrying_count = pc.sum(labelled_records.column("carries_identifier")).as_py() or 0
    # Prior: the chance a random (child, record) pair matches. A record belongs to at most one
    # child, so it is (share of records that are LA children's) / children. That share is read
    # from records carrying an identifier (how many of them an identifier linked); a half when
    # no record carries one.
    share_of_records_matching = labelled_count / carrying_count if carrying_count >= MIN_LABELLED_PAIRS else 0.5
    prior = min(max(share_of_records_matching, 0.01) / max(children_count, 1), 0.5)
    labelled_records = labelled_records.drop(["carries_identifier"])

    linker = Linker(
        [
            db_api.register(children, table_name="linkage_training_children"),
            db_api.register(labelled_records, table_name="linkage_training_records"),
        ],
        _model_settings(prior),
        log_level=None,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed, num_chunks=1)
    if labelled_count >= MIN_LABELLED_PAIRS:
        linker.training.estimate_m_from_label_column("label")
        model = linker.misc.save_model_to_json()
    else:
        model = linker.misc.save_model_to_json()
        _set_m_probabilities(model, PRIOR_M_PROBABILITIES)
    return _with_probability_floors(model)


def _set_m_probabilities(model: dict, m_by_comparison: dict[str, tuple[float, ...]]) -> None:
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        for level, m in zip(levels, m_by_comparison[comparison["output_column_name"]], strict=True):
            level["m_probability"] = m


def _with_probability_floors(model: dict) -> dict:
    """Floor each level's m (renormalised per comparison) and u probabilities.

    A level never seen among identifier-linked pairs (no swapped day/month among them this
    time) is rare for a match, not impossible; one never seen among the sampled random pairs
    (a small authority) is rare for a non-match, not impossible.
    """
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        for key, floor in (("m_probability", MIN_M_PROBABILITY), ("u_probability", MIN_U_PROBABILITY)):
            floored = [
                max(level.get(key), floor) if isinstance(level.get(key), (int, float)) else floor for level in levels
            ]
            total = sum(floored)
            for level, value in zip(levels, floored):
                level[key] = value / total
    return model


def _save_model(model: dict, model_path: Path) -> None:
    """Write the model JSON owner-only, replacing any previous one whole."""
    model_path.parent.mkdir(parents=True, exist_ok=True)
    partial = model_path.with_name(model_path.name + ".partial")
    fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(model, f, indent=2)
    os.replace(partial, model_path)


def _comparison_signature(model: dict) -> list:
    return [
        (c.get("output_column_name"), [level.get("sql_condition") for level in c.get("comparison_levels", [])])
        for c in model.get("comparisons", [])
    ]


def _load_model(model_path: Path | None) -> dict | None:
    """The saved model when it exists and compares exactly what this code compares, else None."""
    if model_path is None or not model_path.exists():
        return None
    try:
        model = json.loads(model_path.read_text())
        saved = _comparison_signature(model)
    except (ValueError, AttributeError):
        log.warning("linkage model file is unreadable; retraining")
        return None
    current = _comparison_signature(_model_settings(0.001).get_settings("duckdb").as_dict())
    if saved != current:
        log.warning("linkage model file was made for other comparisons; retraining")
        return None
    return model


def _scores_sql(predictions_table: str | None) -> str:
    if predictions_table is None:
        return (
            "SELECT NULL::VARCHAR AS agency, NULL::VARCHAR AS agency_record_id, NULL::VARCHAR AS person_id, "
            "NULL::DOUBLE AS match_probability, NULL::VARCHAR AS evidence WHERE false"
        )
    evidence_parts = []
    for column, levels in EVIDENCE_LEVELS.items():
        cases = " ".join(f"WHEN {gamma} THEN '{text}'" for gamma, text in levels.items())
        evidence_parts.append(f"CASE gamma_{column} {cases} END")
    # splink orders each pair by source dataset name: children ("linkage_children_input") are left.
    return f"""
        SELECT
            split_part(unique_id_r, '|', 1) AS agency,
            substr(unique_id_r, strpos(unique_id_r, '|') + 1) AS agency_record_id,
            unique_id_l AS person_id,
            match_probability,
            concat_ws('; ', {', '.join(evidence_parts)}) AS evidence
        FROM {predictions_table}
        WHERE source_dataset_l = 'linkage_children_input'
        UNION ALL
        SELECT
            split_part(unique_id_l, '|', 1),
            substr(unique_id_l, strpos(unique_id_l, '|') + 1),
            unique_id_r,
            match_probability,
            concat_ws('; ', {', '.join(evidence_parts)})
        FROM {predictions_table}
        WHERE source_dataset_r = 'linkage_children_input'
    """


@contextmanager
def _quiet_splink():
    """Silence splink below WARNING: its INFO messages can echo sample rows."""
    splink_logger = logging.getLogger("splink")
    previous = splink_logger.level
    splink_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        splink_logger.setLevel(previous)


# -- store plumbing -------------------------------------------------------------------------


def _statements(sql: str) -> list[str]:
    """Split a file of statements on semicolons that end a line (none occur inside literals here)."""
    without_comments = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", without_comments, flags=re.MULTILINE) if s.strip()]


def _run_sql_file(con, path: Path, parameters: dict | None = None) -> None:
    for statement in _statements(path.read_text()):
        used = {name: value for name, value in (parameters or {}).items() if f"${name}" in statement}
        con.execute(statement, used).fetchall() if used else con.execute(statement).fetchall()


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _replace_outputs(con) -> None:
    """Swap in the new index in one transaction (the caller's, when it already holds one)."""
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        _write_outputs(con)  # inside the caller's transaction: it commits or rolls back
        return
    try:
        _write_outputs(con)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _write_outputs(con) -> None:
    for target, source, columns in (
        ("person_links", "linkage_links", "agency, agency_record_id, person_id, method, match_probability"),
        ("person_identifiers", "linkage_person_identifiers", "person_id, identifier_type, identifier_value"),
        ("link_candidates", "linkage_possible_matches",
         "agency, agency_record_id, person_id, match_probability, evidence"),
        ("link_conflicts", "linkage_conflicts", "agency, agency_record_id, person_id, conflict_types"),
    ):
        con.execute(f"DELETE FROM {target}")
        con.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source} ORDER BY ALL")


def _summary(con, model_status: str, model_path: Path | None) -> LinkSummary:
    by_method = dict(
        con.execute("SELECT method, count(*) FROM person_links GROUP BY method ORDER BY method").fetchall()
    )
    return LinkSummary(
        children=_count(con, "linkage_children"),
        agency_records=_count(con, "linkage_records"),
        links_by_method=by_method,
        possible_matches=_count(con, "link_candidates"),
        conflicts=_count(con, "link_conflicts"),
        unlinked_records=con.execute(
            """
            SELECT count(*) FROM linkage_records
            ANTI JOIN person_links USING (agency, agency_record_id)
            """
        ).fetchall()[0][0],
        model=model_status,
        model_path=str(model_path) if model_path is not None else None,
    )


def _drop_work_tables(con) -> None:
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'linkage\\_%' ESCAPE '\\'"
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")
