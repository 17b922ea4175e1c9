"""The splink model: what is compared, how it is trained, and how it is kept.

Training (first run, or on request), seeded so the same data gives the same model:

- u (how often non-matches agree at each level) by random sampling of child x record pairs;
- m (how often true matches agree) by expectation maximisation over several blocking rules
  (`blocking.EM_TRAINING_RULES`), which needs no labels: a partner without NHS numbers or UPNs
  (police, youth justice, early help, EDT) or a new authority's first nights;
- and, when identifiers or officers already link enough pairs, m counted from those labelled
  pairs, weighted against the EM estimate by how many there are (all labels from
  `LABELS_FOR_FULL_WEIGHT` up, all EM below `MIN_LABELLED_PAIRS`).

The model dict is splink's JSON; `training` (method, counts, date) travels beside it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from caseflags.linkage.blocking import EM_TRAINING_RULES, splink_blocking_rules

log = logging.getLogger(__name__)

# The model's input: the same columns on both sides (children and partner records).
MODEL_COLUMNS = (
    "forename",
    "forename_forms",
    "forename_formal",
    "surname",
    "dob",
    "dob_swapped",
    "sex",
    "postcode",
    "postcode_sector",
    "postcode_district",
)

# Below this many labelled pairs, m comes from EM alone; from LABELS_FOR_FULL_WEIGHT up, from
# the labels alone (EM is then not run); in between, a weighted mean of the two.
MIN_LABELLED_PAIRS = 30
LABELS_FOR_FULL_WEIGHT = 1000
# Pairs sampled to estimate u: enough for stable estimates, small enough for a nightly run.
U_SAMPLE_PAIRS = 500_000
# Blocked pairs each EM session looks at, at most (a sample beyond that: same estimates, less
# time), once there are enough records to sample from.
EM_MAX_PAIRS = 400_000
EM_SAMPLE_FROM_RECORDS = 100_000
# EM needs data to learn from: below this many partner records (or children) m stays at the priors.
MIN_EM_RECORDS = 100
# Least m and u probabilities of a comparison level (see with_probability_floors).
MIN_M_PROBABILITY = 0.002
MIN_U_PROBABILITY = 0.00001
# Where EM starts (best level first, null level excluded), and what stands for a comparison EM
# could not estimate (every session blocked on it, or no pairs): cautious guesses at how often a
# true match agrees at each level.
PRIOR_M_PROBABILITIES = {
    "forename": (0.85, 0.05, 0.04, 0.01, 0.02, 0.03),
    "surname": (0.88, 0.05, 0.01, 0.03, 0.03),
    "dob": (0.93, 0.02, 0.03, 0.02),
    "sex": (0.97, 0.03),
    "postcode": (0.60, 0.10, 0.10, 0.20),
}
# EM has collapsed when a comparison's exact level ends up this far below its prior m (on
# names-and-DOB-only data with most partner records strangers, EM put m(exact DOB) at 0.024):
# the data cannot support estimating that comparison, and its m stays fixed at the prior.
EM_COLLAPSE_RATIO = 0.5
TRAINING_METHODS = ("EM", "LABELS", "LABELS+EM")


def model_settings(probability_two_random_records_match: float):
    """The model's definition (a splink SettingsCreator): comparisons, levels and blocking rules."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    forename = cl.CustomComparison(
        output_column_name="forename",
        comparison_levels=[
            cll.NullLevel("forename"),
            cll.ExactMatchLevel("forename", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("forename", 0.92),
            cll.ArrayIntersectLevel("forename_forms", 1).configure(label_for_charts="Nickname of one another"),
            cll.CustomLevel("forename_l = surname_r", label_for_charts="Forename is the other's surname"),
            cll.JaroWinklerLevel("forename", 0.80),
            cll.ElseLevel(),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("surname", 0.92),
            cll.CustomLevel("surname_l = forename_r", label_for_charts="Surname is the other's forename"),
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
    # Any shape of postcode: whole, then sector and district (sql/linkage/macros.sql says what
    # those are for a UK postcode and for any other shape).
    postcode = cl.CustomComparison(
        output_column_name="postcode",
        comparison_levels=[
            cll.NullLevel("postcode"),
            cll.ExactMatchLevel("postcode"),
            cll.CustomLevel("postcode_sector_l = postcode_sector_r", label_for_charts="Postcode sector"),
            cll.CustomLevel("postcode_district_l = postcode_district_r", label_for_charts="Postcode district"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        linker_uid="caseflags_person_index",  # fixed, so a retrained model on the same data is identical
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[forename, surname, dob, cl.ExactMatch("sex"), postcode],
        blocking_rules_to_generate_predictions=splink_blocking_rules(),
        # splink keeps the gamma_* (agreement level) columns only alongside the compared values;
        # those stay in the private work database and only the levels leave it, as evidence.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=[],
    )


def settings_dict(probability_two_random_records_match: float) -> dict:
    return model_settings(probability_two_random_records_match).get_settings("duckdb").as_dict()


def train_model(db_api, children, labelled_records, seed: int, *, use_em: bool = True) -> dict:
    """Estimate u by random sampling and m by EM and/or labels; return the model dict.

    `children`: arrow table (unique_id, model columns, label = own id); `labelled_records`: the
    same for every partner record, label = the child identifiers or officers link it to (else
    null), plus `carries_identifier`. `use_em=False` leaves m at the labels (or the priors when
    labels are few): the behaviour before EM, kept for the benchmark's comparison and a test.
    """
    import pyarrow.compute as pc
    from splink import Linker

    children_count = children.num_rows
    labelled_count = labelled_records.num_rows - labelled_records.column("label").null_count
    carrying_count = pc.sum(labelled_records.column("carries_identifier")).as_py() or 0
    # Prior: the chance a random (child, record) pair matches. A record belongs to at most one
    # child, so it is (share of records that are LA children's) / children. That share is read
    # from records carrying an identifier (how many of them an identifier linked); without
    # enough of those, EM's estimate on the date-of-birth block (below), starting from a half.
    labels_known = carrying_count >= MIN_LABELLED_PAIRS
    share_of_records_matching = labelled_count / carrying_count if labels_known else 0.5
    prior = min(max(share_of_records_matching, 0.01) / max(children_count, 1), 0.5)
    records = labelled_records.drop(["carries_identifier"])
    label_weight = 0.0 if labelled_count < MIN_LABELLED_PAIRS else min(1.0, labelled_count / LABELS_FOR_FULL_WEIGHT)

    inputs = [
        db_api.register(children, table_name="linkage_training_children"),
        db_api.register(records, table_name="linkage_training_records"),
    ]

    def new_linker(model: dict):
        # validate_settings=False here and wherever a Linker is built: the settings are our own,
        # fixed in code (tests/test_linkage_settings_valid.py has splink validate them once);
        # splink's check re-parses every SQL fragment with sqlglot, about 0.7 s a night.
        return Linker(inputs, model, log_level=None, validate_settings=False)

    start = settings_dict(prior)
    set_m_probabilities(start, PRIOR_M_PROBABILITIES)
    linker = new_linker(start)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed, num_chunks=1)
    with_u = linker.misc.save_model_to_json()

    m_label = m_em = None
    sessions = []
    if label_weight > 0:
        label_linker = new_linker(with_u)
        label_linker.training.estimate_m_from_label_column("label")
        m_label = m_probabilities(label_linker.misc.save_model_to_json())
    em_possible = min(records.num_rows, children_count) >= MIN_EM_RECORDS
    if use_em and label_weight < 1 and em_possible:
        estimates: dict[str, list[tuple]] = {}
        for number, rule in enumerate(EM_TRAINING_RULES):
            # Each session in its own linker from the same start; splink leaves out of a
            # session's estimate the comparisons whose fields it blocks on.
            em_linker = new_linker(with_u)
            try:
                em_linker.training.estimate_parameters_using_expectation_maximisation(
                    rule,
                    fix_u_probabilities=True,
                    max_pairs=EM_MAX_PAIRS if records.num_rows >= EM_SAMPLE_FROM_RECORDS else None,
                    # The first session (a shared birth date) also sets the prior when no
                    # identifiers could: matches are a readable share of those pairs.
                    populate_probability_two_random_records_match_from_trained_values=(
                        number == 0 and not labels_known
                    ),
                )
            except Exception as problem:  # noqa: BLE001 - a session with no pairs is skipped, not fatal
                log.warning("linkage EM session %d skipped: %s", number + 1, type(problem).__name__)
                continue
            sessions.append(rule)
            em_model = em_linker.misc.save_model_to_json()
            if number == 0 and not labels_known:
                with_u["probability_two_random_records_match"] = em_model["probability_two_random_records_match"]
            for name, values in m_probabilities(em_model).items():
                if not _blocked_on(name, rule):
                    estimates.setdefault(name, []).append(values)
        if estimates:
            m_em = {name: _mean_by_level(runs) for name, runs in estimates.items()}
            for name, values in list(m_em.items()):
                if em_collapsed(name, values):
                    log.warning("linkage EM estimate for %s not credible: m fixed at the prior", name)
                    m_em[name] = PRIOR_M_PROBABILITIES[name]
            for name, prior_values in PRIOR_M_PROBABILITIES.items():
                m_em.setdefault(name, prior_values)

    model = with_u
    if m_label is not None and m_em is not None:
        set_m_probabilities(model, _weighted(m_label, m_em, label_weight))
        method = "LABELS+EM"
    elif m_label is not None:
        set_m_probabilities(model, m_label)
        method = "LABELS"
    elif m_em is not None:
        set_m_probabilities(model, m_em)
        method = "EM"
    else:
        method = "PRIOR"  # EM switched off and too few labels: the hand-set m values
    model = with_probability_floors(model)
    model["caseflags_training"] = {
        "method": method,
        "trained_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "seed": seed,
        "children": children_count,
        "records": records.num_rows,
        "labelled_pairs": labelled_count,
        "label_weight": round(label_weight, 4),
        "em_sessions": sessions,
        "u_sample_pairs": U_SAMPLE_PAIRS,
    }
    return model


def _levels(comparison: dict) -> list[dict]:
    return [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]


def m_probabilities(model: dict) -> dict[str, tuple[float | None, ...]]:
    return {
        c["output_column_name"]: tuple(level.get("m_probability") for level in _levels(c)) for c in model["comparisons"]
    }


# The fields each comparison reads: an EM session blocking on one of them cannot estimate it.
COMPARISON_FIELDS = {
    "forename": ("forename", "forename_forms", "forename_formal", "surname"),
    "surname": ("surname", "forename"),
    "dob": ("dob", "dob_swapped"),
    "sex": ("sex",),
    "postcode": ("postcode", "postcode_sector", "postcode_district"),
}


def _blocked_on(comparison: str, rule: str) -> bool:
    return any(re.search(rf"\b[lr]\.{field}\b", rule) for field in COMPARISON_FIELDS[comparison])


def em_collapsed(name: str, values: tuple) -> bool:
    """EM's m for a comparison's exact level fell far below the prior: it modelled something
    other than 'the same person' (a cluster of strangers sharing a common name)."""
    exact = values[0] if values else None
    return isinstance(exact, (int, float)) and exact < EM_COLLAPSE_RATIO * PRIOR_M_PROBABILITIES[name][0]


def _mean_by_level(runs: list[tuple]) -> tuple:
    """Each level's mean over the sessions that estimated it (None when none did)."""
    means = []
    for values in zip(*runs):
        known = [v for v in values if isinstance(v, (int, float))]
        means.append(sum(known) / len(known) if known else None)
    return tuple(means)


def _weighted(m_label: dict, m_em: dict, label_weight: float) -> dict:
    combined = {}
    for name, label_values in m_label.items():
        values = []
        for label_m, em_m in zip(label_values, m_em[name], strict=True):
            if label_m is None or em_m is None:
                values.append(label_m if em_m is None else em_m)
            else:
                values.append(label_weight * label_m + (1 - label_weight) * em_m)
        combined[name] = tuple(values)
    return combined


def set_m_probabilities(model: dict, m_by_comparison: dict[str, tuple]) -> None:
    """Set each level's m (None leaves a level to the priors' value)."""
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        prior = PRIOR_M_PROBABILITIES[name]
        for level, m, fallback in zip(_levels(comparison), m_by_comparison[name], prior, strict=True):
            level["m_probability"] = m if isinstance(m, (int, float)) else fallback


def with_probability_floors(model: dict) -> dict:
    """Floor each level's m (renormalised per comparison) and u probabilities.

    A level never seen among the matches this time (no swapped day/month) is rare for a match,
    not impossible; one never seen among the sampled random pairs (a small authority) is rare
    for a non-match, not impossible.
    """
    for comparison in model["comparisons"]:
        levels = _levels(comparison)
        for key, floor in (("m_probability", MIN_M_PROBABILITY), ("u_probability", MIN_U_PROBABILITY)):
            floored = [
                max(level.get(key), floor) if isinstance(level.get(key), (int, float)) else floor for level in levels
            ]
            total = sum(floored)
            for level, value in zip(levels, floored):
                # Ten significant digits: DuckDB's parallel sums may differ in the last bits
                # from run to run; the same data must give the same model file.
                level[key] = float(f"{value / total:.10g}")
    prior = model.get("probability_two_random_records_match")
    if isinstance(prior, float):
        model["probability_two_random_records_match"] = float(f"{prior:.10g}")
    return model


def save_model(model: dict, model_path: Path) -> None:
    """Write the model JSON owner-only, replacing any previous one whole."""
    model_path.parent.mkdir(parents=True, exist_ok=True)
    partial = model_path.with_name(model_path.name + ".partial")
    fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(model, f, indent=2)
    os.replace(partial, model_path)


def signature(model: dict) -> list:
    """What the model compares and blocks on: a saved model for anything else is not reused."""
    blocking = [
        rule.get("blocking_rule") if isinstance(rule, dict) else rule
        for rule in model.get("blocking_rules_to_generate_predictions", [])
    ]
    comparisons = [
        (c.get("output_column_name"), [level.get("sql_condition") for level in c.get("comparison_levels", [])])
        for c in model.get("comparisons", [])
    ]
    return [comparisons, blocking]


def load_model(model_path: Path | None) -> dict | None:
    """The saved model when it exists and compares exactly what this code compares, else None."""
    if model_path is None or not model_path.exists():
        return None
    try:
        model = json.loads(model_path.read_text())
        saved = signature(model)
    except (ValueError, AttributeError):
        log.warning("linkage model file is unreadable; retraining")
        return None
    if saved != signature(settings_dict(0.001)):
        log.warning("linkage model file was made for other comparisons; retraining")
        return None
    return model


def splink_model(model: dict) -> dict:
    """The model as splink takes it (without caseflags' own training record and frozen name
    frequencies)."""
    return {key: value for key, value in model.items() if not key.startswith("caseflags_")}
