"""Person index: which partner record is which LA child.

Every check that crosses agencies joins through the tables built here, so this is the only
place people are matched (docs/LINKAGE.md):

1. deterministic: a valid NHS number or UPN held by social care for the child (on the person
   row, or among `ssd_linked_identifiers`), or the LA child id the partner recorded;
2. probabilistic: splink (DuckDB backend) on names, date of birth (a day/month swap allowed),
   sex and postcode for records no identifier settles. At or above `match_threshold` a pair
   is a link; between `review_threshold` and that it is a possible match for officers;
3. officers' decisions (`record_link_decision`) are kept across runs and win over both.

The splink model (`model.py`: u by random sampling, m by EM over several blocking rules and/or
from the pairs identifiers already link) is saved as JSON next to the store, recorded in the
store's `linkage_model` (`parameters.py`) and reused by later runs unless `retrain=True`.
Candidate pairs come from `blocking.py`; splink scores them in `scoring.py`.
Plain functions, no Prefect. Nothing here logs names, dates of birth or identifiers.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from caseflags.linkage.model import PRIOR_M_PROBABILITIES
from caseflags.linkage.parameters import assess_expected_quality, assessed_thresholds, record_model
from caseflags.linkage.scoring import KEEP_SCORES_SQL, SCORE_COLUMNS, score_unresolved_records
from caseflags.resources import SQL_DIR, config_default
from caseflags.store.database import ensure_store

log = logging.getLogger(__name__)

NICKNAMES_SQL = SQL_DIR / "linkage/nicknames.sql"
DETERMINISTIC_SQL = SQL_DIR / "linkage/deterministic.sql"
RESOLVE_SQL = SQL_DIR / "linkage/resolve.sql"
ASSIGN_ROUND_SQL = SQL_DIR / "linkage/assign_round.sql"
OUTPUTS_SQL = SQL_DIR / "linkage/outputs.sql"
MAX_ASSIGNMENT_ROUNDS = 20  # each round settles every mutually best pair; a few suffice
# The share of records with a true child, as the model estimates it, is held below this: an
# overestimate (EM on a small authority) would lift every lone candidate.
RECORD_SHARE_CAP = 0.9

METHODS = (
    "LA_ID",
    "OFFICER_CONFIRMED",
    "NHS_NUMBER",
    "UPN",
    "LINKED_IDENTIFIER",
    "LA_PERSON_ID",
    "NAME_DOB",
    "PROBABILISTIC",
)
DECISIONS = ("CONFIRMED", "REJECTED")
DEFAULT_MATCH_THRESHOLD = config_default("linkage", "match_threshold")
DEFAULT_REVIEW_THRESHOLD = config_default("linkage", "review_threshold")
DEFAULT_SEED = 20261124
MODEL_SUFFIX = ".linkage-model.json"  # <store>.linkage-model.json: one model per store


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
    # Data quality: postcodes in a shape that is not a UK one, per agency (SOCIAL_CARE for the
    # children's). Still compared, whole and by their leading characters; never dropped.
    postcodes_not_uk_shaped: dict[str, int] = field(default_factory=dict)
    # What the model scored tonight (issue 28): records scored against every child, children
    # scored again against the other records, pairs kept from the last scoring.
    scored: dict[str, int] = field(default_factory=dict)

    @property
    def partner_links(self) -> int:
        return sum(n for method, n in self.links_by_method.items() if method != "LA_ID")


def default_model_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """`<store>.linkage-model.json` beside the store file; None for an in-memory store."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if not rows or not rows[0][0]:
        return None
    return Path(rows[0][0]).resolve().with_suffix(MODEL_SUFFIX)


def link_people(
    con: duckdb.DuckDBPyConnection,
    *,
    match_threshold: float = DEFAULT_MATCH_THRESHOLD,
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    model_path: Path | None = None,
    retrain: bool = False,
    seed: int = DEFAULT_SEED,
    train_with_em: bool = True,
    offer_contradicted: bool = False,
    incremental: bool = True,
) -> LinkSummary:
    """(Re)build person_links, person_identifiers, link_candidates and link_conflicts.

    Reads ssd_person, ssd_address, ssd_linked_identifiers, agency_records and link_decisions.
    The four output tables are replaced in one transaction, so a failed run leaves the last
    good index in place. `linkage_model` and `linkage_expected_quality` describe the model
    used. `train_with_em=False` trains m from labels only (or hand-set priors): for comparison.
    `offer_contradicted=True` offers never-match pairs (another valid NHS number or UPN) to
    officers instead of dropping them (the region's cross-border linkage); never linked either way.
    `incremental`: score only the records and children whose compared fields changed since the
    last scoring by this model, keeping the other pairs' scores (`scoring.py`); False scores all
    (from scratch) and leaves the kept scores as they were. The links are the same either way.
    """
    if not 0 < review_threshold <= match_threshold <= 1:
        raise ValueError("need 0 < review_threshold <= match_threshold <= 1")
    ensure_store(con)
    model_path = Path(model_path) if model_path is not None else default_model_path(con)
    try:
        prepare_inputs(con)

        con.execute(f"CREATE OR REPLACE TEMP TABLE linkage_scores ({SCORE_COLUMNS})")
        model_status = "not needed"
        model = None
        scored = {}
        has_records = _count(con, "linkage_records") > 0
        if _count(con, "linkage_children") and (_count(con, "linkage_unresolved_records") or (retrain and has_records)):
            scores, model_status, model, scored = score_unresolved_records(
                con,
                model_path=model_path,
                retrain=retrain,
                seed=seed,
                review_threshold=review_threshold,
                use_em=train_with_em,
                incremental=incremental,
            )
            con.register("linkage_scores_arrow", scores)
            con.execute("INSERT INTO linkage_scores SELECT * FROM linkage_scores_arrow")
            con.unregister("linkage_scores_arrow")
            if incremental:  # kept for the next night: it scores only what changed
                _run_sql_file(con, KEEP_SCORES_SQL, {"model_key": scored.pop("model_key")})
            scored.pop("model_key", None)
            _describe_model_in_store(con, model, model_status, match_threshold, review_threshold)

        thresholds = {"match_threshold": float(match_threshold), "review_threshold": float(review_threshold)}
        household = household_parameters(model, _count(con, "linkage_children"))
        household["record_share"] = min(household["record_share"], observed_record_share(con, model))
        _run_sql_file(
            con, RESOLVE_SQL, {**thresholds, **household, "match_weight_threshold": match_weight(match_threshold)}
        )
        _assign_one_to_one(con)
        _run_sql_file(con, OUTPUTS_SQL, {**thresholds, "offer_contradicted": bool(offer_contradicted)})
        _replace_outputs(con)
        summary = _summary(con, model_status, model_path, scored)
    finally:
        _drop_work_tables(con)
    log.info(
        "linkage: %d children, %d partner records, links by method %s, %d possible matches, %d conflicts, model %s",
        summary.children,
        summary.agency_records,
        summary.links_by_method,
        summary.possible_matches,
        summary.conflicts,
        summary.model,
    )
    if summary.postcodes_not_uk_shaped:
        log.warning(
            "linkage: postcodes not in a UK shape (compared as delivered), by agency: %s",
            summary.postcodes_not_uk_shaped,
        )
    return summary


def match_weight(probability: float) -> float:
    """The match weight (log2 of the odds) a probability stands for: 0.99 is 6.63."""
    return math.inf if probability >= 1 else math.log2(probability / (1 - probability))


def household_parameters(model: dict | None, children: int) -> dict:
    """What the household (twin / sibling) probability needs from the model: the share of partner
    records with a true child (the prior x children, at most 1) and how often a true match
    carries a clearly different forename (m of the forename's lowest level)."""
    if model is None:
        return {
            "record_share": 0.5,
            "m_forename_differs": PRIOR_M_PROBABILITIES["forename"][-1],
            "prior_probability": 0.5,
        }
    prior = model.get("probability_two_random_records_match") or 0.0
    forename = next(c for c in model["comparisons"] if c["output_column_name"] == "forename")
    levels = [level for level in forename["comparison_levels"] if not level.get("is_null_level")]
    return {
        "record_share": min(max(prior * children, 1e-6), RECORD_SHARE_CAP),
        "m_forename_differs": float(levels[-1].get("m_probability") or PRIOR_M_PROBABILITIES["forename"][-1]),
        "prior_probability": min(max(prior, 1e-12), 0.5),
    }


def observed_record_share(con: duckdb.DuckDBPyConnection, model: dict | None) -> float:
    """The share of partner records with a true child, read from the data: records identifiers
    or officers settled, plus those the exact name-and-DOB rule linked divided by how often a
    true match agrees exactly on all three (the model's m). Held below RECORD_SHARE_CAP; EM
    alone can overestimate the prior tenfold on a small authority."""
    records = _count(con, "linkage_records")
    if model is None or not records:
        return RECORD_SHARE_CAP
    settled = con.execute(
        "SELECT count(DISTINCT (agency, agency_record_id)) FROM (SELECT agency, agency_record_id FROM "
        "linkage_deterministic WHERE children_for_record = 1 UNION ALL SELECT agency, agency_record_id "
        "FROM linkage_confirmed WHERE children_for_record = 1)"
    ).fetchall()[0][0]
    exact = 1.0
    for comparison in model["comparisons"]:
        if comparison["output_column_name"] in ("forename", "surname", "dob"):
            levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
            exact *= float(levels[0].get("m_probability") or 1.0)
    share = (settled + _count(con, "linkage_name_dob") / max(exact, 0.05)) / records
    return min(max(share, 1e-6), RECORD_SHARE_CAP)


def _assign_one_to_one(con: duckdb.DuckDBPyConnection) -> None:
    """Greedy one-to-one assignment, in rounds of mutually best pairs (sql/linkage/assign_round.sql)."""
    statement = ASSIGN_ROUND_SQL.read_text()
    for _ in range(MAX_ASSIGNMENT_ROUNDS):
        before = _count(con, "linkage_accepted_pairs")
        con.execute(statement)
        if _count(con, "linkage_accepted_pairs") == before:
            break


def prepare_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """Build linkage's TEMP input tables (linkage_children, linkage_records, the identifier
    matches, linkage_unresolved_records) on this connection; `link_people` drops them after."""
    ensure_store(con)  # the linkage macros
    con.execute(NICKNAMES_SQL.read_text())
    _run_sql_file(con, DETERMINISTIC_SQL)


def drop_work_tables(con: duckdb.DuckDBPyConnection) -> None:
    _drop_work_tables(con)


def _describe_model_in_store(con, model: dict, status: str, match_threshold: float, review_threshold: float) -> None:
    """Record the model's parameters; assess expected quality when the model or thresholds changed."""
    trained_at = model.get("caseflags_training", {}).get("trained_at")
    stored = con.execute(
        "SELECT count(*) FILTER (WHERE strftime(trained_at, '%Y-%m-%dT%H:%M:%S') IS NOT DISTINCT FROM $t) "
        "= count(*) AND count(*) > 0 FROM linkage_model",
        {"t": trained_at},
    ).fetchone()[0]  # the table describes this very model
    if status == "trained" or not stored:
        record_model(con, model)
    wanted = {"match": float(match_threshold), "review": float(review_threshold)}
    if status == "trained" or not stored or assessed_thresholds(con) != wanted:
        assess_expected_quality(con, model, match_threshold, review_threshold)


def possible_matches(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Pairs awaiting an officer's decision, most likely first (ids, probability and evidence only)."""
    ensure_store(con)
    rows = con.execute(
        """
        SELECT agency, agency_record_id, person_id, match_probability, evidence,
               coalesce(kind, 'POSSIBLE_MATCH'), raw_probability
        FROM link_candidates
        ORDER BY match_probability DESC, agency, agency_record_id, person_id
        """
    ).fetchall()
    keys = ("agency", "agency_record_id", "person_id", "match_probability", "evidence", "kind", "raw_probability")
    return [dict(zip(keys, row)) for row in rows]


def why_linked(con: duckdb.DuckDBPyConnection, agency: str, agency_record_id: str, person_id: str) -> dict:
    """A pair's explanation (no personal data): the link or candidate, each field's match weight
    (prior first; they add up to the pair's match weight), and the child's other linked records."""
    ensure_store(con)
    key = {"agency": agency.strip().upper(), "record": agency_record_id, "person": person_id}
    link = con.execute(
        "SELECT method, match_probability FROM person_links "
        "WHERE agency = $agency AND agency_record_id = $record AND person_id = $person",
        key,
    ).fetchone()
    candidate = con.execute(
        "SELECT kind, match_probability, raw_probability FROM link_candidates "
        "WHERE agency = $agency AND agency_record_id = $record AND person_id = $person",
        key,
    ).fetchone()
    weights = con.execute(
        "SELECT comparison, level, match_weight FROM link_match_weights "
        "WHERE agency = $agency AND agency_record_id = $record AND person_id = $person ORDER BY position",
        key,
    ).fetchall()
    others = con.execute(
        "SELECT agency, agency_record_id, method FROM person_links WHERE person_id = $person AND method <> 'LA_ID' "
        "AND NOT (agency = $agency AND agency_record_id = $record) ORDER BY agency, agency_record_id",
        key,
    ).fetchall()
    return {
        "link": dict(zip(("method", "match_probability"), link)) if link else None,
        "candidate": dict(zip(("kind", "match_probability", "raw_probability"), candidate)) if candidate else None,
        "weights": [dict(zip(("comparison", "level", "match_weight"), w)) for w in weights],
        "child_records": [dict(zip(("agency", "agency_record_id", "method"), o)) for o in others],
    }


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
    ensure_store(con)
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
            "decided_at": decided_at or datetime.now(UTC).replace(tzinfo=None),
            "decided_by": decided_by,
            "note": note,
        },
    ).fetchall()


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
        (
            "link_candidates",
            "linkage_possible_matches",
            "agency, agency_record_id, person_id, match_probability, evidence, kind, raw_probability, match_weight",
        ),
        (
            "link_match_weights",
            "linkage_match_weights",
            "agency, agency_record_id, person_id, position, comparison, level, match_weight",
        ),
        ("link_conflicts", "linkage_conflicts", "agency, agency_record_id, person_id, conflict_types"),
    ):
        con.execute(f"DELETE FROM {target}")
        con.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source} ORDER BY ALL")


def _summary(con, model_status: str, model_path: Path | None, scored: dict) -> LinkSummary:
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
        scored=scored,
        postcodes_not_uk_shaped={
            agency: n
            for agency, n in con.execute(
                "SELECT agency, not_uk_shaped FROM linkage_postcode_quality WHERE not_uk_shaped > 0 ORDER BY agency"
            ).fetchall()
        },
    )


def _drop_work_tables(con) -> None:
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'linkage\\_%' ESCAPE '\\'"
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")
