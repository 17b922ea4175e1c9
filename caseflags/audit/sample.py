"""The next multi-agency audit sample, chosen from the findings, with a chronology pack per child.

The partnership audits about ten children at a time. `choose_sample` picks them from the audit
cohort, weighted by each child's open exceptions, spanning age bands and need types, leaving out
children audited recently, with a quota of children with no exceptions as controls.
`write_sample` records the sample in the store and writes `audit_sample.xlsx` (the list with
reasons, and an outcome sheet for auditors) and one self-contained HTML pack per child: every
event across agencies in date order, with the child's open exceptions beside it.
`mark_audited` and `import_audit_outcomes` record the audit; `confirmation_rates` says per check
how often auditors confirmed what it raised (docs/AUDIT_SAMPLE.md).

Nothing here reads the clock: dates come in as parameters, and the seed (drawn from the OS when
not given) is recorded so the sample can be drawn again.
"""

from __future__ import annotations

import hashlib
import html
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations
from pathlib import Path
from random import Random

import duckdb

from caseflags.private_files import owner_only, private_dir

COHORTS = ("CIN_WITH_ACTIVE_EHCP", "CIN", "ACTIVE_EHCP")
FLAGGED = "FLAGGED"
CONTROL = "CONTROL"
CONFIRMED = "CONFIRMED"
NOT_A_CONCERN = "NOT_A_CONCERN"
OUTCOMES = (CONFIRMED, NOT_A_CONCERN)

# Weight of a concern by the highest severity of its exceptions for the child.
SEVERITY_POINTS = {"HIGH": 3, "MEDIUM": 2, "LOW": 1}

# (lowest age, highest age or None, label); ages in whole years at the as-at date.
AGE_BANDS = ((0, 4, "0-4"), (5, 10, "5-10"), (11, 15, "11-15"), (16, 18, "16-18"), (19, None, "19+"))
UNKNOWN_AGE_BAND = "unknown"

# CIN census primary need codes.
NEED_LABELS = {
    "N0": "not stated",
    "N1": "abuse or neglect",
    "N2": "child's disability or illness",
    "N3": "parental disability or illness",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
    "N9": "cases other than children in need",
}
NO_OPEN_EPISODE = "NO_OPEN_EPISODE"  # not CiN at D (ACTIVE_EHCP cohort)
NEED_NOT_RECORDED = "NOT_RECORDED"  # open episode without a primary need code

SAMPLE_FILE = "audit_sample.xlsx"
SAMPLE_SHEET = "Sample"
OUTCOME_SHEET = "Outcomes"
OUTCOME_COLUMNS = (
    "sample_id", "person_id", "role", "check_id", "concern", "flagged", "severity", "exception_count",
    "owner_agencies", "exception_ids", "outcome", "auditor_note",
)
EXTRA_ROWS_PER_CHILD = 2  # blank rows per child for concerns auditors find that no check raised

AUDIT_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS audit_samples (
    sample_id VARCHAR PRIMARY KEY,
    as_at DATE NOT NULL,
    seed BIGINT NOT NULL,
    cohort VARCHAR NOT NULL,
    size INTEGER NOT NULL,
    controls INTEGER NOT NULL,
    exclude_audited_within_days INTEGER NOT NULL,
    exceptions_source VARCHAR NOT NULL,     -- 'exceptions_current' or 'exceptions run <run_id>'
    exceptions_as_at DATE,
    warnings VARCHAR,
    audited_on DATE                         -- NULL until the audit is recorded
);
CREATE TABLE IF NOT EXISTS audit_sample_children (
    sample_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    role VARCHAR NOT NULL,                  -- FLAGGED / CONTROL
    age_band VARCHAR NOT NULL,
    need_type VARCHAR NOT NULL,
    weight INTEGER NOT NULL,
    open_exceptions INTEGER NOT NULL,
    distinct_concerns INTEGER NOT NULL,
    reasons VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_sample_concerns (
    sample_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    concern VARCHAR,
    severity VARCHAR NOT NULL,              -- highest severity of the child's exceptions of the check
    exception_count INTEGER NOT NULL,
    exception_ids VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_outcomes (
    sample_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    flagged BOOLEAN NOT NULL,               -- the check raised it for the child when sampled
    outcome VARCHAR NOT NULL,               -- CONFIRMED / NOT_A_CONCERN
    auditor_note VARCHAR,
    recorded_at TIMESTAMP NOT NULL,
    source_file VARCHAR
);
"""


class SampleError(Exception):
    """The sample cannot be chosen or recorded; the message says why in one line."""


class AuditImportError(Exception):
    """An outcome file that cannot be imported; nothing was applied. The message lists the problems."""


@dataclass(frozen=True)
class OpenException:
    exception_id: str
    check_id: str
    concern: str | None
    severity: str
    agency: str
    entity_type: str
    entity_id: str
    detail: str | None
    locator: str | None
    status: str | None = None
    first_seen: date | None = None


@dataclass(frozen=True)
class ExceptionSource:
    """Where open exceptions were read from: a label for the record and the run's as-at date."""

    label: str
    as_at: date
    count: int


@dataclass(frozen=True)
class SampleChild:
    person_id: str
    position: int
    role: str  # FLAGGED / CONTROL
    age_years: int | None
    age_band: str
    need_type: str
    disabilities: str
    open_exception_count: int
    distinct_concerns: int
    weight: int
    probability: float  # the chance this child had at its draw
    reasons: tuple[str, ...]
    exceptions: tuple[OpenException, ...] = ()


@dataclass(frozen=True)
class SampleResult:
    sample_id: str
    as_at: date
    seed: int
    cohort: str
    size: int
    controls: int  # requested quota
    exclude_audited_within_days: int
    exceptions_source: ExceptionSource
    cohort_count: int
    excluded_recently_audited: int
    strata_required: tuple[str, ...]
    strata_uncovered: tuple[str, ...]
    children: tuple[SampleChild, ...]
    warnings: tuple[str, ...] = ()

    @property
    def controls_chosen(self) -> int:
        return sum(1 for child in self.children if child.role == CONTROL)


@dataclass(frozen=True)
class ChronologyEvent:
    event_date: date | None  # None: the record carries no date (listed last)
    agency: str
    source_table: str
    event_type: str
    description: str
    record_id: str | None = None


@dataclass(frozen=True)
class ImportSummary:
    sample_id: str
    rows_imported: int
    confirmed: int
    not_a_concern: int
    missed: int  # confirmed by auditors, not raised by the check
    pending: int  # rows with no outcome yet

    def __str__(self) -> str:
        return (
            f"sample {self.sample_id}: {self.rows_imported} outcomes ({self.confirmed} confirmed, "
            f"{self.not_a_concern} not a concern, {self.missed} found by auditors that no check raised); "
            f"{self.pending} rows without an outcome"
        )


def ensure_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(AUDIT_TABLES_SQL)


# Open exceptions ------------------------------------------------------------------------------

LATEST_RUN_SQL = """
SELECT run_id, as_at
FROM runs
WHERE status = 'COMPLETED' AND as_at <= $as_at
ORDER BY as_at DESC, started_at DESC, run_id DESC
LIMIT 1
"""

OPEN_EXCEPTIONS_TABLE = "audit_open_exceptions"


def _relation_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $name "
        "ORDER BY ordinal_position",
        {"name": name},
    ).fetchall()
    return [row[0] for row in rows]


def open_exceptions(con: duckdb.DuckDBPyConnection, as_at: date) -> ExceptionSource:
    """Fill the temp table `audit_open_exceptions` with the open exceptions of the latest completed
    run on or before as_at, and say where they came from.

    The `exceptions_current` view (caseflags/outputs) is used when it exists and holds that run;
    otherwise the run's rows of `exceptions` (every row of a run is open in that run). Rows
    without a child (identifier issues on partner tables) cannot be sampled and are left out.
    """
    run = con.execute(LATEST_RUN_SQL, {"as_at": as_at}).fetchone()
    if run is None:
        raise SampleError(f"no completed run on or before {as_at}: run `caseflags run` first")
    run_id, run_as_at = run
    current_columns = _relation_columns(con, "exceptions_current")
    use_current = False
    if current_columns and "as_at" in current_columns:
        current_as_at = con.execute("SELECT max(as_at) FROM exceptions_current").fetchone()[0]
        use_current = current_as_at == run_as_at
    if use_current:
        status = "status" if "status" in current_columns else "'OPEN'"
        first_seen = "CAST(first_seen AS DATE)" if "first_seen" in current_columns else "CAST(NULL AS DATE)"
        status_filter = "AND status IN ('NEW', 'OPEN')" if "status" in current_columns else ""
        source_sql = f"""
            SELECT exception_id, check_id, concern, severity, person_id, agency, entity_type, entity_id,
                   detail, locator, CAST({status} AS VARCHAR) AS status, {first_seen} AS first_seen
            FROM exceptions_current
            WHERE nullif(person_id, '') IS NOT NULL {status_filter}
        """
        params: dict = {}
        label = "exceptions_current"
    else:
        source_sql = """
            SELECT exception_id, check_id, concern, severity, person_id, agency, entity_type, entity_id,
                   detail, locator, 'OPEN' AS status, CAST(NULL AS DATE) AS first_seen
            FROM exceptions
            WHERE run_id = $run_id AND nullif(person_id, '') IS NOT NULL
        """
        params = {"run_id": run_id}
        label = f"exceptions run {run_id}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {OPEN_EXCEPTIONS_TABLE} AS {source_sql}", params)
    count = con.execute(f"SELECT count(*) FROM {OPEN_EXCEPTIONS_TABLE}").fetchone()[0]
    return ExceptionSource(label=label, as_at=run_as_at, count=count)


# The cohort -----------------------------------------------------------------------------------

# One row per cohort child: age, need type, disabilities, open-exception weight and last audit.
COHORT_SQL = f"""
WITH cin_children AS (
    SELECT DISTINCT cinp_person_id AS person_id
    FROM ssd_cin_plans
    WHERE cinp_cin_plan_start_date <= $as_at
      AND (cinp_cin_plan_end_date IS NULL OR cinp_cin_plan_end_date > $as_at)
),
active_ehcp_children AS (
    SELECT DISTINCT pupil.person_id
    FROM ehcp_plans AS plan
    JOIN person_identifiers AS pupil
      ON pupil.identifier_type = 'UPN' AND pupil.identifier_value = plan.upn
    WHERE plan.named_plan_start_date <= $as_at
      AND (plan.ceased_date IS NULL OR plan.ceased_date > $as_at)
),
cohort_children AS (
    SELECT person_id FROM cin_children
    WHERE $cohort = 'CIN'
       OR ($cohort = 'CIN_WITH_ACTIVE_EHCP' AND person_id IN (SELECT person_id FROM active_ehcp_children))
    UNION
    SELECT person_id FROM active_ehcp_children WHERE $cohort = 'ACTIVE_EHCP'
),
dates_of_birth AS (
    SELECT pers_person_id AS person_id, min(pers_dob) AS dob
    FROM ssd_person
    GROUP BY pers_person_id
),
latest_open_episode_need AS (
    SELECT cine_person_id AS person_id,
           coalesce(CAST(cine_cin_primary_need_code AS VARCHAR), '{NEED_NOT_RECORDED}') AS need_type
    FROM ssd_cin_episodes
    WHERE cine_referral_date <= $as_at AND (cine_close_date IS NULL OR cine_close_date > $as_at)
    QUALIFY row_number() OVER (
        PARTITION BY cine_person_id ORDER BY cine_referral_date DESC, cine_referral_id DESC
    ) = 1
),
disability_lists AS (
    SELECT disa_person_id AS person_id,
           array_to_string(list_sort(list_distinct(list(CAST(disa_disability_code AS VARCHAR)))), ', ')
               AS disabilities
    FROM ssd_disability
    GROUP BY disa_person_id
),
exceptions_by_concern AS (
    SELECT person_id, check_id, count(*) AS exception_count,
           max(CASE severity WHEN 'HIGH' THEN 3 WHEN 'MEDIUM' THEN 2 ELSE 1 END) AS points
    FROM {OPEN_EXCEPTIONS_TABLE}
    GROUP BY person_id, check_id
),
exception_totals AS (
    SELECT person_id,
           CAST(sum(exception_count) AS INTEGER) AS open_exceptions,
           CAST(count(*) AS INTEGER) AS distinct_concerns,
           CAST(sum(points) AS INTEGER) AS weight
    FROM exceptions_by_concern
    GROUP BY person_id
),
last_audits AS (
    SELECT child.person_id, max(sample.audited_on) AS last_audited_on
    FROM audit_sample_children AS child
    JOIN audit_samples AS sample USING (sample_id)
    WHERE sample.audited_on IS NOT NULL AND sample.audited_on <= $as_at
    GROUP BY child.person_id
)
SELECT
    cohort_children.person_id,
    CASE WHEN dates_of_birth.dob IS NOT NULL THEN
        year($as_at) - year(dates_of_birth.dob)
        - CASE WHEN strftime($as_at, '%m%d') < strftime(dates_of_birth.dob, '%m%d') THEN 1 ELSE 0 END
    END AS age_years,
    coalesce(latest_open_episode_need.need_type, '{NO_OPEN_EPISODE}') AS need_type,
    coalesce(disability_lists.disabilities, '') AS disabilities,
    coalesce(exception_totals.open_exceptions, 0) AS open_exceptions,
    coalesce(exception_totals.distinct_concerns, 0) AS distinct_concerns,
    coalesce(exception_totals.weight, 0) AS weight,
    last_audits.last_audited_on,
    coalesce(last_audits.last_audited_on >= $as_at - CAST($exclude_days - 1 AS INTEGER), false)
        AS recently_audited
FROM cohort_children
LEFT JOIN dates_of_birth USING (person_id)
LEFT JOIN latest_open_episode_need USING (person_id)
LEFT JOIN disability_lists USING (person_id)
LEFT JOIN exception_totals USING (person_id)
LEFT JOIN last_audits USING (person_id)
ORDER BY cohort_children.person_id
"""

CHILD_EXCEPTIONS_SQL = f"""
SELECT person_id, exception_id, check_id, concern, severity, agency, entity_type, entity_id, detail, locator,
       status, first_seen
FROM {OPEN_EXCEPTIONS_TABLE}
WHERE list_contains($person_ids, person_id)
ORDER BY person_id, CASE severity WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 ELSE 3 END, check_id, exception_id
"""


def age_band(age_years: int | None) -> str:
    if age_years is None:
        return UNKNOWN_AGE_BAND
    age = max(age_years, 0)  # a date of birth after the as-at date is a data error, not a stratum
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return UNKNOWN_AGE_BAND


def need_label(need_type: str) -> str:
    if need_type in NEED_LABELS:
        return f"{need_type} ({NEED_LABELS[need_type]})"
    return {NO_OPEN_EPISODE: "no open CIN episode", NEED_NOT_RECORDED: "primary need not recorded"}.get(
        need_type, need_type
    )


@dataclass(frozen=True)
class _Candidate:
    person_id: str
    age_years: int | None
    age_band: str
    need_type: str
    disabilities: str
    open_exceptions: int
    distinct_concerns: int
    weight: int

    @property
    def role(self) -> str:
        return FLAGGED if self.open_exceptions > 0 else CONTROL

    @property
    def cell(self) -> tuple[str, str]:
        return (self.age_band, self.need_type)

    @property
    def draw_weight(self) -> int:
        return self.weight if self.role == FLAGGED else 1


# Strata: every age band and need type of the eligible cohort should appear in the sample. A
# stratum value is ("age", band) or ("need", code); a child covers its two values.
Value = tuple[str, str]
Cell = tuple[str, str]


def _values(cell: Cell) -> tuple[Value, Value]:
    return (("age", cell[0]), ("need", cell[1]))


def _value_text(value: Value) -> str:
    return f"age band {value[1]}" if value[0] == "age" else f"need type {need_label(value[1])}"


def _max_matching(edges: set[tuple[Value, Value]]) -> int:
    """Maximum matching of a small bipartite graph (ages x needs) by augmenting paths."""
    adjacency: dict[Value, list[Value]] = {}
    for age, need in sorted(edges):
        adjacency.setdefault(age, []).append(need)
    matched_to: dict[Value, Value] = {}

    def augment(age: Value, seen: set[Value]) -> bool:
        for need in adjacency[age]:
            if need in seen:
                continue
            seen.add(need)
            if need not in matched_to or augment(matched_to[need], seen):
                matched_to[need] = age
                return True
        return False

    return sum(1 for age in adjacency if augment(age, set()))


def _min_cover(uncovered: frozenset[Value], cells: set[Cell]) -> float:
    """Fewest children from `cells` that cover every value in `uncovered` (inf when impossible).

    Minimum edge cover: each pick covers at most two uncovered values and the picks covering
    two form a matching, so the minimum is |uncovered| minus a maximum matching.
    """
    if not uncovered:
        return 0
    coverable: set[Value] = set()
    pairs: set[tuple[Value, Value]] = set()
    for cell in cells:
        age, need = _values(cell)
        coverable.update(value for value in (age, need) if value in uncovered)
        if age in uncovered and need in uncovered:
            pairs.add((age, need))
    if coverable != uncovered:
        return float("inf")
    return len(uncovered) - _max_matching(pairs)


# Searching which control children carry strata is exponential in the worst case; past this many
# steps the search answers with the pool-blind bound, and any stratum then left out is reported.
COVER_SEARCH_STEPS = 20_000


def _coverable(uncovered: frozenset[Value], flagged_cells: set[Cell], control_cells: set[Cell],
               flagged_places: int, control_places: int) -> bool:
    """Whether the remaining places can still cover every uncovered value, each pool within its
    places: a search over the few control places (pairs first), the flagged pool covering the
    rest exactly by matching; pruned by the bound that ignores which pool a child is in."""
    all_cells = flagged_cells | control_cells
    memo: dict[tuple[frozenset[Value], int], bool] = {}
    steps = 0

    def search(rest: frozenset[Value], places_left: int) -> bool:
        nonlocal steps
        if _min_cover(rest, flagged_cells) <= flagged_places:
            return True
        if places_left == 0 or _min_cover(rest, all_cells) > flagged_places + places_left:
            return False
        key = (rest, places_left)
        if key in memo:
            return memo[key]
        steps += 1
        if steps > COVER_SEARCH_STEPS:
            return True  # give up searching: the pool-blind bound above held
        projections = {frozenset(v for v in _values(cell) if v in rest) for cell in control_cells}
        projections.discard(frozenset())
        useful = [p for p in projections if not any(p < other for other in projections)]
        useful.sort(key=lambda p: (-len(p), sorted(p)))
        memo[key] = any(search(rest - p, places_left - 1) for p in useful)
        return memo[key]

    if len(uncovered) > 2 * (flagged_places + control_places):
        return False
    return search(uncovered, control_places)


def _cells(candidates: list[_Candidate]) -> set[Cell]:
    return {candidate.cell for candidate in candidates}


def _weighted_pick(rng: Random, candidates: list[_Candidate]) -> tuple[_Candidate, float]:
    total = sum(candidate.draw_weight for candidate in candidates)
    point = rng.randrange(total)
    for candidate in candidates:
        if point < candidate.draw_weight:
            return candidate, candidate.draw_weight / total
        point -= candidate.draw_weight
    raise AssertionError("weighted pick ran past the total")  # unreachable: point < total


def _relax_strata(required: set[Value], eligible: list[_Candidate], flagged_places: int,
                  control_places: int) -> list[Value]:
    """Drop the rarest strata until the rest can be covered; returns what was dropped."""
    flagged_cells = _cells([c for c in eligible if c.role == FLAGGED])
    control_cells = _cells([c for c in eligible if c.role == CONTROL])
    children_per_value = Counter(value for c in eligible for value in _values(c.cell))
    dropped: list[Value] = []
    while not _coverable(frozenset(required), flagged_cells, control_cells, flagged_places, control_places):
        rarest = min(required, key=lambda v: (children_per_value[v], v[0] == "age", v[1]))
        required.discard(rarest)
        dropped.append(rarest)
    return dropped


def _sample_id(as_at: date, seed: int, cohort: str, size: int, controls: int, exclude_days: int,
               source: ExceptionSource, person_ids: list[str]) -> str:
    key = "|".join([as_at.isoformat(), str(seed), cohort, str(size), str(controls), str(exclude_days),
                    source.label, source.as_at.isoformat(), *person_ids])
    return f"AS-{as_at:%Y%m%d}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def _concern_summary(exceptions: list[OpenException]) -> str:
    by_check: dict[str, list[OpenException]] = {}
    for exception in exceptions:
        by_check.setdefault(exception.check_id, []).append(exception)

    def top(rows: list[OpenException]) -> str:
        return max((row.severity for row in rows), key=lambda s: SEVERITY_POINTS.get(s, 1))

    parts = []
    for check_id, rows in sorted(by_check.items(), key=lambda kv: (-SEVERITY_POINTS.get(top(kv[1]), 1), kv[0])):
        count = f" x{len(rows)}" if len(rows) > 1 else ""
        parts.append(f"{check_id} ({top(rows)}{count})")
    return ", ".join(parts)


def choose_sample(
    con: duckdb.DuckDBPyConnection,
    as_at: date,
    size: int = 10,
    seed: int | None = None,
    controls: int = 2,
    exclude_audited_within_days: int = 365,
    cohort: str = "CIN_WITH_ACTIVE_EHCP",
) -> SampleResult:
    """Choose `size` children from the cohort at as_at (see the module and docs/AUDIT_SAMPLE.md).

    Raises SampleError when no sample can be drawn (unknown cohort, no completed run, fewer
    eligible children than `size`). When the control quota or the strata cannot all be honoured
    the sample is still drawn, as close as the cohort allows, and `warnings` says what gave way.
    """
    if cohort not in COHORTS:
        raise SampleError(f"unknown cohort {cohort!r}: use one of {', '.join(COHORTS)}")
    if size < 1:
        raise SampleError("sample size must be at least 1")
    if not 0 <= controls <= size:
        raise SampleError(f"controls must be between 0 and the sample size ({size}), got {controls}")
    if exclude_audited_within_days < 0:
        raise SampleError("exclude_audited_within_days must not be negative")
    if seed is None:
        seed = secrets.randbelow(2**31)  # recorded with the sample so the draw can be repeated
    ensure_audit_tables(con)
    source = open_exceptions(con, as_at)
    rows = con.execute(
        COHORT_SQL, {"as_at": as_at, "cohort": cohort, "exclude_days": exclude_audited_within_days}
    ).fetchall()
    cohort_count = len(rows)
    excluded = sum(1 for row in rows if row[8])
    eligible = [
        _Candidate(person_id=row[0], age_years=row[1], age_band=age_band(row[1]), need_type=row[2],
                   disabilities=row[3], open_exceptions=row[4], distinct_concerns=row[5], weight=row[6])
        for row in rows
        if not row[8]
    ]
    if cohort_count == 0:
        raise SampleError(f"the {cohort} cohort is empty at {as_at}")
    if len(eligible) < size:
        raise SampleError(
            f"only {len(eligible)} of {cohort_count} children in the {cohort} cohort at {as_at} are eligible "
            f"({excluded} audited in the last {exclude_audited_within_days} days): choose a size of at most "
            f"{len(eligible)} or a shorter exclusion period"
        )

    warnings: list[str] = []
    flagged_pool = [c for c in eligible if c.role == FLAGGED]
    control_pool = [c for c in eligible if c.role == CONTROL]
    control_places = controls
    if len(control_pool) < controls:
        control_places = len(control_pool)
        warnings.append(
            f"control quota not met: only {len(control_pool)} eligible children have no open exceptions, "
            f"{controls} were asked for; the other places go to children with exceptions"
        )
    flagged_places = size - control_places
    if len(flagged_pool) < flagged_places:
        flagged_places = len(flagged_pool)
        control_places = size - flagged_places
        warnings.append(
            f"only {len(flagged_pool)} eligible children have open exceptions: {control_places} places "
            f"go to children without exceptions (controls quota {controls})"
        )

    all_values = {value for c in eligible for value in _values(c.cell)}
    required = set(all_values)
    dropped = _relax_strata(required, eligible, flagged_places, control_places)
    if dropped:
        needed = _min_cover(frozenset(all_values), _cells(eligible))
        warnings.append(
            f"strata not all coverable with {size} children (every age band and need type needs at least "
            f"{int(needed)}); the rarest are left to chance: {'; '.join(_value_text(v) for v in dropped)}"
        )

    rng = Random(seed)
    remaining = {FLAGGED: list(flagged_pool), CONTROL: list(control_pool)}
    places = {FLAGGED: flagged_places, CONTROL: control_places}
    covered: set[Value] = set()
    picks: list[tuple[_Candidate, float, list[Value], bool]] = []
    for role in [FLAGGED] * flagged_places + [CONTROL] * control_places:
        places[role] -= 1
        uncovered = frozenset(required - covered)
        pool = remaining[role]
        children_per_cell = {r: Counter(c.cell for c in remaining[r]) for r in remaining}
        feasible_cells = set()
        for cell in sorted(children_per_cell[role]):
            cells_left = {r: set(children_per_cell[r]) for r in remaining}
            if children_per_cell[role][cell] == 1:  # taking its only child empties the cell
                cells_left[role].discard(cell)
            if _coverable(uncovered - set(_values(cell)), cells_left[FLAGGED], cells_left[CONTROL],
                          places[FLAGGED], places[CONTROL]):
                feasible_cells.add(cell)
        # Feasibility held before this draw, so some cell keeps it; the fallback only guards the invariant.
        allowed = [c for c in pool if c.cell in feasible_cells] or pool
        restricted = len(allowed) < len(pool)
        chosen, probability = _weighted_pick(rng, allowed)
        new_values = [v for v in _values(chosen.cell) if v in uncovered]
        covered.update(_values(chosen.cell))
        pool.remove(chosen)
        picks.append((chosen, probability, new_values, restricted))

    person_ids = [pick[0].person_id for pick in picks]
    exceptions_by_child: dict[str, list[OpenException]] = {pid: [] for pid in person_ids}
    for row in con.execute(CHILD_EXCEPTIONS_SQL, {"person_ids": person_ids}).fetchall():
        exceptions_by_child[row[0]].append(OpenException(*row[1:]))

    children = []
    for position, (candidate, probability, new_values, restricted) in enumerate(picks, start=1):
        exceptions = exceptions_by_child[candidate.person_id]
        stratum = f"age band {candidate.age_band}, need type {need_label(candidate.need_type)}"
        if candidate.role == FLAGGED:
            reasons = [
                f"{candidate.open_exceptions} open exception(s) across {candidate.distinct_concerns} concern(s): "
                f"{_concern_summary(exceptions)}",
                f"drawn with weight {candidate.weight} ({probability:.0%} chance at draw {position})",
            ]
        else:
            reasons = [
                f"control: no open exceptions at the run of {source.as_at}, chosen to catch what the checks miss",
                f"drawn with equal chance ({probability:.0%} at draw {position})",
            ]
        reasons.append(stratum)
        if restricted and new_values:
            reasons.append(
                f"this place was kept for {' and '.join(_value_text(v) for v in new_values)}, "
                "so the sample spans every age band and need type"
            )
        children.append(SampleChild(
            person_id=candidate.person_id, position=position, role=candidate.role,
            age_years=candidate.age_years, age_band=candidate.age_band, need_type=candidate.need_type,
            disabilities=candidate.disabilities, open_exception_count=candidate.open_exceptions,
            distinct_concerns=candidate.distinct_concerns, weight=candidate.draw_weight,
            probability=probability, reasons=tuple(reasons), exceptions=tuple(exceptions),
        ))

    uncovered_values = sorted(all_values - covered)
    if required - covered:  # only when the search gave up or a pool ran short: say so
        warnings.append(
            "strata left out of the sample: " + "; ".join(_value_text(v) for v in sorted(required - covered))
        )
    return SampleResult(
        sample_id=_sample_id(as_at, seed, cohort, size, controls, exclude_audited_within_days, source, person_ids),
        as_at=as_at, seed=seed, cohort=cohort, size=size, controls=controls,
        exclude_audited_within_days=exclude_audited_within_days, exceptions_source=source,
        cohort_count=cohort_count, excluded_recently_audited=excluded,
        strata_required=tuple(_value_text(v) for v in sorted(all_values)),
        strata_uncovered=tuple(_value_text(v) for v in uncovered_values),
        children=tuple(children), warnings=tuple(warnings),
    )


# Chronology -----------------------------------------------------------------------------------

def _yes_no(column: str) -> str:
    return f"CASE WHEN {column} THEN 'yes' WHEN NOT {column} THEN 'no' ELSE 'not recorded' END"


def _text(column: str) -> str:
    return f"coalesce(CAST({column} AS VARCHAR), 'not recorded')"


CHILD_UPNS = "(SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'UPN')"
CHILD_NHS_NUMBERS = (
    "(SELECT identifier_value FROM person_identifiers WHERE person_id = $person_id AND identifier_type = 'NHS_NUMBER')"
)
# Attendance codes (School Attendance (Pupil Registration) (England) Regulations 2024).
ATTENDING_CODES = "('/', '\\', 'L', 'K', 'V', 'P', 'W', 'B')"
AUTHORISED_CODES = "('C', 'C1', 'C2', 'M', 'J1', 'S', 'T', 'R', 'I', 'E')"
UNAUTHORISED_CODES = "('G', 'N', 'O', 'U')"
NOT_POSSIBLE_CODES = "('Q', 'Y1', 'Y2', 'Y3', 'Y4', 'Y5', 'Y6', 'Y7', 'X', 'Z', '#')"

# One SELECT per source table (event_date, agency, source_table, event_type, description,
# record_id), in the order events of the same day are listed. Each names the tables it reads.
CHRONOLOGY_SOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    "ssd_cin_episodes": (("ssd_cin_episodes",), f"""
        SELECT cine_referral_date AS event_date, 'SOCIAL_CARE' AS agency, 'ssd_cin_episodes' AS source_table,
               'Referral' AS event_type,
               concat('CIN referral ', cine_referral_id, ', primary need ', {_text('cine_cin_primary_need_code')})
                   AS description,
               cine_referral_id AS record_id
        FROM ssd_cin_episodes WHERE cine_person_id = $person_id
        UNION ALL
        SELECT cine_close_date, 'SOCIAL_CARE', 'ssd_cin_episodes', 'CIN episode closed',
               concat('CIN episode ', cine_referral_id, ' closed, reason ', {_text('cine_close_reason')}),
               cine_referral_id
        FROM ssd_cin_episodes WHERE cine_person_id = $person_id AND cine_close_date IS NOT NULL
    """),
    "ssd_cin_assessments": (("ssd_cin_assessments",), f"""
        SELECT cina_assessment_start_date, 'SOCIAL_CARE', 'ssd_cin_assessments', 'Assessment started',
               concat('Assessment ', cina_assessment_id, ' started (referral ', {_text('cina_referral_id')}, ')'),
               cina_assessment_id
        FROM ssd_cin_assessments WHERE cina_person_id = $person_id
        UNION ALL
        SELECT cina_assessment_auth_date, 'SOCIAL_CARE', 'ssd_cin_assessments', 'Assessment authorised',
               concat('Assessment ', cina_assessment_id, ' authorised; child seen: ',
                      {_yes_no('cina_assessment_child_seen')}),
               cina_assessment_id
        FROM ssd_cin_assessments WHERE cina_person_id = $person_id AND cina_assessment_auth_date IS NOT NULL
    """),
    "ssd_assessment_factors": (("ssd_assessment_factors", "ssd_cin_assessments"), """
        SELECT coalesce(assessment.cina_assessment_auth_date, assessment.cina_assessment_start_date),
               'SOCIAL_CARE', 'ssd_assessment_factors', 'Assessment factors',
               concat('Factors on assessment ', factors.cinf_assessment_id, ': ',
                      array_to_string(factors.cinf_assessment_factors_json, ', '),
                      CASE WHEN list_contains(factors.cinf_assessment_factors_json, '15A')
                           THEN ' (15A: self-harm)' ELSE '' END),
               factors.cinf_assessment_id
        FROM ssd_assessment_factors AS factors
        JOIN ssd_cin_assessments AS assessment ON assessment.cina_assessment_id = factors.cinf_assessment_id
        WHERE assessment.cina_person_id = $person_id
    """),
    "ssd_cin_plans": (("ssd_cin_plans",), """
        SELECT cinp_cin_plan_start_date, 'SOCIAL_CARE', 'ssd_cin_plans', 'CIN plan started',
               concat('CIN plan ', cinp_cin_plan_id, ' started'), cinp_cin_plan_id
        FROM ssd_cin_plans WHERE cinp_person_id = $person_id
        UNION ALL
        SELECT cinp_cin_plan_end_date, 'SOCIAL_CARE', 'ssd_cin_plans', 'CIN plan ended',
               concat('CIN plan ', cinp_cin_plan_id, ' ended'), cinp_cin_plan_id
        FROM ssd_cin_plans WHERE cinp_person_id = $person_id AND cinp_cin_plan_end_date IS NOT NULL
    """),
    "plan_actions": (("plan_actions",), f"""
        SELECT CASE WHEN completed_date <= $as_at THEN completed_date WHEN due_date <= $as_at THEN due_date END,
               coalesce(CAST(owner_agency AS VARCHAR), 'SOCIAL_CARE'), 'plan_actions',
               CASE WHEN completed_date <= $as_at THEN 'Plan action completed'
                    WHEN due_date <= $as_at AND status = 'OPEN' THEN 'Plan action overdue'
                    WHEN due_date <= $as_at THEN 'Plan action due'
                    ELSE 'Plan action (no date yet)' END,
               concat('Action ', action_id, ' on plan ', plan_id, ': ', action_text,
                      '; owner ', coalesce(owner_role, owner_professional_id, 'not recorded'),
                      '; due ', {_text('due_date')}, '; outcome measure ', {_text('outcome_measure')},
                      '; status ', {_text('status')}),
               action_id
        FROM plan_actions WHERE person_id = $person_id
    """),
    "ssd_cin_visits": (("ssd_cin_visits",), f"""
        SELECT cinv_cin_visit_date, 'SOCIAL_CARE', 'ssd_cin_visits', 'CIN visit',
               concat('Visit ', cinv_cin_visit_id, '; child seen: ', {_yes_no('cinv_cin_visit_seen')},
                      '; seen alone: ', {_yes_no('cinv_cin_visit_seen_alone')}),
               cinv_cin_visit_id
        FROM ssd_cin_visits WHERE cinv_person_id = $person_id
    """),
    "ssd_s47_enquiry": (("ssd_s47_enquiry",), f"""
        SELECT s47e_s47_start_date, 'SOCIAL_CARE', 'ssd_s47_enquiry', 'S47 enquiry started',
               concat('S47 enquiry ', s47e_s47_enquiry_id, ' started'), s47e_s47_enquiry_id
        FROM ssd_s47_enquiry WHERE s47e_person_id = $person_id
        UNION ALL
        SELECT s47e_s47_end_date, 'SOCIAL_CARE', 'ssd_s47_enquiry', 'S47 enquiry ended',
               concat('S47 enquiry ', s47e_s47_enquiry_id, ' ended; no further action: ', {_yes_no('s47e_s47_nfa')}),
               s47e_s47_enquiry_id
        FROM ssd_s47_enquiry WHERE s47e_person_id = $person_id AND s47e_s47_end_date IS NOT NULL
    """),
    "ssd_initial_cp_conference": (("ssd_initial_cp_conference",), f"""
        SELECT coalesce(icpc_icpc_date, icpc_icpc_target_date), 'SOCIAL_CARE', 'ssd_initial_cp_conference',
               CASE WHEN icpc_icpc_date IS NOT NULL THEN 'ICPC' ELSE 'ICPC target date' END,
               concat('Initial child protection conference ', icpc_icpc_id,
                      coalesce(' (meeting ' || icpc_icpc_meeting_id || ')', ''),
                      coalesce(' for S47 enquiry ' || icpc_s47_enquiry_id, ''),
                      '; target date ', {_text('icpc_icpc_target_date')},
                      CASE WHEN icpc_icpc_date IS NULL THEN '; no conference date recorded' ELSE '' END),
               icpc_icpc_id
        FROM ssd_initial_cp_conference WHERE icpc_person_id = $person_id
    """),
    "meetings": (("meetings", "meeting_invitations"), f"""
        WITH child_meetings AS (
            SELECT * FROM meetings WHERE person_id = $person_id
        ),
        invitation_lists AS (
            SELECT invitation.meeting_id,
                   string_agg(concat(CAST(invitation.invitee_role AS VARCHAR),
                                     coalesce(' (' || CAST(invitation.agency AS VARCHAR) || ')', ''), ': ',
                                     CASE WHEN invitation.attended THEN 'attended'
                                          WHEN NOT invitation.attended THEN 'did not attend'
                                          ELSE 'attendance not recorded' END),
                              '; ' ORDER BY CAST(invitation.invitee_role AS VARCHAR),
                                            CAST(invitation.agency AS VARCHAR)) AS invited
            FROM meeting_invitations AS invitation
            WHERE invitation.meeting_id IN (SELECT meeting_id FROM child_meetings)
            GROUP BY invitation.meeting_id
        )
        SELECT CASE meeting.status WHEN 'HELD' THEN coalesce(meeting.held_date, meeting.scheduled_date)
                                   WHEN 'CANCELLED' THEN coalesce(meeting.cancelled_date, meeting.scheduled_date)
                                   ELSE meeting.scheduled_date END,
               CASE WHEN meeting.meeting_type = 'EHCP_ANNUAL_REVIEW' THEN 'EDUCATION' ELSE 'SOCIAL_CARE' END,
               CASE WHEN invitation_lists.invited IS NULL THEN 'meetings' ELSE 'meetings + meeting_invitations' END,
               concat(CAST(meeting.meeting_type AS VARCHAR), ' ', lower(CAST(meeting.status AS VARCHAR))),
               concat('Meeting ', meeting.meeting_id, ' (scheduled ', CAST(meeting.scheduled_date AS VARCHAR), ')',
                      CASE WHEN meeting.status = 'HELD'
                           THEN concat('; child attended: ', {_yes_no('meeting.child_attended')},
                                       '; minutes shared: ', {_text('meeting.minutes_shared_date')})
                           ELSE '' END,
                      '; invited: ', coalesce(invitation_lists.invited, 'no invitations recorded')),
               meeting.meeting_id
        FROM child_meetings AS meeting
        LEFT JOIN invitation_lists USING (meeting_id)
    """),
    "voice_records": (("voice_records",), f"""
        SELECT recorded_date, CAST(agency AS VARCHAR), 'voice_records',
               concat('Voice: ', CAST(voice_source AS VARCHAR)),
               concat('Voice record ', voice_id, ' from ', CAST(voice_source AS VARCHAR), ', method ', {_text('method')}),
               voice_id
        FROM voice_records WHERE person_id = $person_id
    """),
    "information_sharing": (("information_sharing",), f"""
        SELECT shared_date, CAST(from_agency AS VARCHAR), 'information_sharing',
               concat('Shared: ', CAST(topic AS VARCHAR)),
               concat(CAST(from_agency AS VARCHAR), ' shared ', CAST(topic AS VARCHAR), ' with ',
                      CAST(to_agency AS VARCHAR), '; event ', CAST(event_date AS VARCHAR), ', shared ',
                      date_diff('day', event_date, shared_date), ' days later',
                      coalesce('; about ' || related_id, '')),
               share_id
        FROM information_sharing WHERE person_id = $person_id
    """),
    "professional_differences": (("professional_differences",), f"""
        SELECT raised_date, CAST(raised_by_agency AS VARCHAR), 'professional_differences',
               'Professional difference raised',
               concat('Difference ', difference_id, ' raised by ', CAST(raised_by_agency AS VARCHAR), ' about ',
                      CAST(about_agency AS VARCHAR), '; topic ', {_text('topic')}, '; current stage ', current_stage),
               difference_id
        FROM professional_differences WHERE person_id = $person_id
        UNION ALL
        SELECT stage_date, CAST(raised_by_agency AS VARCHAR), 'professional_differences', 'Escalation stage reached',
               concat('Difference ', difference_id, ' reached escalation stage ', current_stage), difference_id
        FROM professional_differences WHERE person_id = $person_id AND stage_date IS NOT NULL AND current_stage >= 1
        UNION ALL
        SELECT resolved_date, CAST(raised_by_agency AS VARCHAR), 'professional_differences',
               'Professional difference resolved', concat('Difference ', difference_id, ' resolved'), difference_id
        FROM professional_differences WHERE person_id = $person_id AND resolved_date IS NOT NULL
    """),
    "transition_plans": (("transition_plans",), """
        SELECT start_date, 'SOCIAL_CARE', 'transition_plans', 'Transition plan started',
               concat(CAST(plan_type AS VARCHAR), ' plan ', plan_id, ' started'), plan_id
        FROM transition_plans WHERE person_id = $person_id
        UNION ALL
        SELECT last_review_date, 'SOCIAL_CARE', 'transition_plans', 'Transition plan reviewed',
               concat(CAST(plan_type AS VARCHAR), ' plan ', plan_id, ' reviewed'), plan_id
        FROM transition_plans WHERE person_id = $person_id AND last_review_date IS NOT NULL
        UNION ALL
        SELECT end_date, 'SOCIAL_CARE', 'transition_plans', 'Transition plan ended',
               concat(CAST(plan_type AS VARCHAR), ' plan ', plan_id, ' ended'), plan_id
        FROM transition_plans WHERE person_id = $person_id AND end_date IS NOT NULL
    """),
    "family_contacts": (("family_contacts",), f"""
        SELECT contact_date, CAST(agency AS VARCHAR), 'family_contacts',
               concat('Contact: ', CAST(contact_type AS VARCHAR)),
               concat(CAST(contact_type AS VARCHAR), ' by ', CAST(agency AS VARCHAR),
                      coalesce(' (professional ' || professional_id || ')', ''),
                      CASE WHEN joint_with_agency IS NULL THEN '; not joint'
                           ELSE concat('; joint with ', CAST(joint_with_agency AS VARCHAR)) END),
               contact_id
        FROM family_contacts WHERE person_id = $person_id
    """),
    "ssd_involvements": (("ssd_involvements", "ssd_professionals"), f"""
        WITH professionals AS (
            SELECT prof_professional_id, any_value(prof_professional_job_title) AS job_title,
                   any_value(CAST(prof_agency AS VARCHAR)) AS agency
            FROM ssd_professionals GROUP BY prof_professional_id
        ),
        child_involvements AS (
            SELECT involvement.*, professionals.job_title, coalesce(professionals.agency, 'SOCIAL_CARE') AS agency
            FROM ssd_involvements AS involvement
            LEFT JOIN professionals ON professionals.prof_professional_id = involvement.invo_professional_id
            WHERE involvement.invo_person_id = $person_id
        )
        SELECT invo_involvement_start_date, agency, 'ssd_involvements',
               CASE WHEN invo_professional_role_id = 'CW' THEN 'Social worker allocated' ELSE 'Involvement started' END,
               concat('Professional ', invo_professional_id, coalesce(' (' || job_title || ')', ''), ', role ',
                      invo_professional_role_id, ', involvement ', invo_involvements_id),
               invo_involvements_id
        FROM child_involvements
        UNION ALL
        SELECT invo_involvement_end_date, agency, 'ssd_involvements',
               CASE WHEN invo_professional_role_id = 'CW' THEN 'Social worker allocation ended' ELSE 'Involvement ended' END,
               concat('Professional ', invo_professional_id, ', role ', invo_professional_role_id, '; reason ',
                      {_text('invo_worker_change_reason')}),
               invo_involvements_id
        FROM child_involvements WHERE invo_involvement_end_date IS NOT NULL
    """),
    "agency_flags": (("agency_flags", "person_links"), """
        WITH child_flags AS (
            SELECT flag.*
            FROM agency_flags AS flag
            JOIN person_links AS link
              ON link.agency = CAST(flag.agency AS VARCHAR) AND link.agency_record_id = flag.agency_record_id
            WHERE link.person_id = $person_id
        )
        SELECT coalesce(start_date, recorded_date), CAST(agency AS VARCHAR), 'agency_flags',
               concat('Flag opened: ', CAST(flag_type AS VARCHAR)),
               concat(CAST(agency AS VARCHAR), ' flag ', CAST(flag_type AS VARCHAR), coalesce(' = ' || flag_value, ''),
                      ' on record ', agency_record_id, coalesce('; recorded ' || CAST(recorded_date AS VARCHAR), '')),
               agency_record_id
        FROM child_flags
        UNION ALL
        SELECT end_date, CAST(agency AS VARCHAR), 'agency_flags', concat('Flag closed: ', CAST(flag_type AS VARCHAR)),
               concat(CAST(agency AS VARCHAR), ' flag ', CAST(flag_type AS VARCHAR), ' on record ', agency_record_id,
                      ' closed'),
               agency_record_id
        FROM child_flags WHERE end_date IS NOT NULL
    """),
    "gp_registrations": (("gp_registrations", "person_identifiers"), f"""
        SELECT registered_from, 'GP', 'gp_registrations', 'GP registration',
               concat('Registered with practice ', practice_code), practice_code
        FROM gp_registrations WHERE nhs_number IN {CHILD_NHS_NUMBERS}
        UNION ALL
        SELECT registered_to, 'GP', 'gp_registrations', 'GP registration ended',
               concat('Registration with practice ', practice_code, ' ended'), practice_code
        FROM gp_registrations WHERE nhs_number IN {CHILD_NHS_NUMBERS} AND registered_to IS NOT NULL
    """),
    "ehcp_plans": (("ehcp_plans", "person_identifiers"), f"""
        SELECT named_plan_start_date, 'EDUCATION', 'ehcp_plans', 'EHCP started',
               concat('EHCP ', ehcp_id, ' named plan started', coalesce(', school URN ' || school_urn, '')), ehcp_id
        FROM ehcp_plans WHERE upn IN {CHILD_UPNS}
        UNION ALL
        SELECT last_review_date, 'EDUCATION', 'ehcp_plans', 'EHCP reviewed',
               concat('EHCP ', ehcp_id, ' last reviewed'), ehcp_id
        FROM ehcp_plans WHERE upn IN {CHILD_UPNS} AND last_review_date IS NOT NULL
        UNION ALL
        SELECT ceased_date, 'EDUCATION', 'ehcp_plans', 'EHCP ceased', concat('EHCP ', ehcp_id, ' ceased'), ehcp_id
        FROM ehcp_plans WHERE upn IN {CHILD_UPNS} AND ceased_date IS NOT NULL
    """),
    "attendance_sessions": (("attendance_sessions", "person_identifiers"), f"""
        WITH pupil_sessions AS (
            SELECT session_date, CAST(attendance_code AS VARCHAR) AS code
            FROM attendance_sessions
            WHERE upn IN {CHILD_UPNS} AND session_date <= $as_at
        ),
        monthly_attendance AS (
            SELECT date_trunc('month', session_date) AS month,
                   count(*) FILTER (WHERE code NOT IN {NOT_POSSIBLE_CODES}) AS possible,
                   count(*) FILTER (WHERE code IN {ATTENDING_CODES}) AS attended,
                   count(*) FILTER (WHERE code IN {AUTHORISED_CODES}) AS authorised,
                   count(*) FILTER (WHERE code IN {UNAUTHORISED_CODES}) AS unauthorised
            FROM pupil_sessions
            GROUP BY ALL
        )
        SELECT least(CAST(last_day(month) AS DATE), CAST($as_at AS DATE)), 'EDUCATION', 'attendance_sessions',
               'Attendance in the month',
               concat(strftime(month, '%B %Y'), ': attended ', attended, ' of ', possible, ' possible sessions',
                      CASE WHEN possible > 0 THEN concat(' (', round(100.0 * attended / possible, 1), '%)') ELSE '' END,
                      '; ', authorised, ' authorised and ', unauthorised, ' unauthorised absences'),
               strftime(month, '%Y-%m')
        FROM monthly_attendance
    """),
    "attendance_summaries": (("attendance_summaries", "person_identifiers"), """
        SELECT period_end, 'EDUCATION', 'attendance_summaries', 'Attendance summary',
               concat(CAST(period_start AS VARCHAR), ' to ', CAST(period_end AS VARCHAR), ': present ',
                      present_sessions, ' of ', possible_sessions, ' possible sessions',
                      CASE WHEN possible_sessions > 0
                           THEN concat(' (', round(100.0 * present_sessions / possible_sessions, 1), '%)') ELSE '' END,
                      '; authorised absences ', coalesce(CAST(authorised_absence_sessions AS VARCHAR), 'not given'),
                      ', unauthorised ', coalesce(CAST(unauthorised_absence_sessions AS VARCHAR), 'not given'),
                      coalesce('; school URN ' || school_urn, '')),
               school_urn
        FROM attendance_summaries WHERE upn IN (SELECT identifier_value FROM person_identifiers
                                                WHERE person_id = $person_id AND identifier_type = 'UPN')
    """),
    "ssd_address": (("ssd_address",), """
        WITH child_addresses AS (
            SELECT *, upper(replace(addr_address_postcode, ' ', '')) AS compact_postcode
            FROM ssd_address WHERE addr_person_id = $person_id
        )
        -- Only the postcode district: enough to see a move without printing an address.
        SELECT addr_address_start_date, 'SOCIAL_CARE', 'ssd_address', 'Address recorded',
               concat('Address from ', coalesce(CAST(addr_address_start_date AS VARCHAR), 'unknown date'),
                      ', postcode district ',
                      CASE WHEN length(compact_postcode) > 3 THEN left(compact_postcode, length(compact_postcode) - 3)
                           ELSE 'not recorded' END),
               NULL
        FROM child_addresses
        UNION ALL
        SELECT addr_address_end_date, 'SOCIAL_CARE', 'ssd_address', 'Address ended', 'Address ended', NULL
        FROM child_addresses WHERE addr_address_end_date IS NOT NULL
    """),
}


def _main_relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = current_database()"
    ).fetchall()
    return {row[0] for row in rows}


def chronology_sql(available_tables: set[str]) -> tuple[str, list[str]]:
    """The UNION of every source whose tables are in the store, ordered; and the sources left out."""
    branches, missing = [], []
    for rank, (source, (tables, sql)) in enumerate(CHRONOLOGY_SOURCES.items()):
        if not set(tables) <= available_tables:
            missing.append(source)
            continue
        branches.append(
            f"SELECT {rank} AS source_rank, * FROM (\n{sql}\n) AS source_events"
            "(event_date, agency, source_table, event_type, description, record_id)"
        )
    if not branches:
        return "", missing
    union = "\nUNION ALL\n".join(branches)
    sql = f"""
        SELECT CAST(event_date AS DATE), agency, source_table, event_type, description, record_id
        FROM (
{union}
        ) AS child_events
        WHERE event_date IS NULL OR event_date <= $as_at
        ORDER BY event_date NULLS LAST, source_rank, record_id NULLS LAST, event_type, description
    """
    return sql, missing


def build_chronology(con: duckdb.DuckDBPyConnection, person_id: str, as_at: date) -> list[ChronologyEvent]:
    """Every event recorded for the child across agencies up to as_at, in date order (undated
    records last). Events of one day keep the order of CHRONOLOGY_SOURCES."""
    sql, _missing = chronology_sql(_main_relations(con))
    if not sql:
        return []
    rows = con.execute(sql, {"person_id": person_id, "as_at": as_at}).fetchall()
    return [ChronologyEvent(*row) for row in rows]


# Recording and writing the sample -----------------------------------------------------------------

def record_sample(con: duckdb.DuckDBPyConnection, result: SampleResult) -> None:
    """Store the sample, its children and their concerns. The sample id is a hash of everything
    that decided the draw, so writing the same sample twice stores it once."""
    ensure_audit_tables(con)
    exists = con.execute("SELECT 1 FROM audit_samples WHERE sample_id = $id", {"id": result.sample_id}).fetchone()
    if exists:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """
            INSERT INTO audit_samples (sample_id, as_at, seed, cohort, size, controls, exclude_audited_within_days,
                                       exceptions_source, exceptions_as_at, warnings, audited_on)
            VALUES ($sample_id, $as_at, $seed, $cohort, $size, $controls, $exclude_days, $source, $source_as_at,
                    $warnings, NULL)
            """,
            {
                "sample_id": result.sample_id, "as_at": result.as_at, "seed": result.seed, "cohort": result.cohort,
                "size": result.size, "controls": result.controls,
                "exclude_days": result.exclude_audited_within_days, "source": result.exceptions_source.label,
                "source_as_at": result.exceptions_source.as_at, "warnings": "\n".join(result.warnings) or None,
            },
        )
        for child in result.children:
            con.execute(
                """
                INSERT INTO audit_sample_children (sample_id, person_id, position, role, age_band, need_type, weight,
                                                   open_exceptions, distinct_concerns, reasons)
                VALUES ($sample_id, $person_id, $position, $role, $age_band, $need_type, $weight, $open, $concerns,
                        $reasons)
                """,
                {
                    "sample_id": result.sample_id, "person_id": child.person_id, "position": child.position,
                    "role": child.role, "age_band": child.age_band, "need_type": child.need_type,
                    "weight": child.weight, "open": child.open_exception_count,
                    "concerns": child.distinct_concerns, "reasons": "\n".join(child.reasons),
                },
            )
            for concern in _child_concerns(child):
                con.execute(
                    """
                    INSERT INTO audit_sample_concerns (sample_id, person_id, check_id, concern, severity,
                                                       exception_count, exception_ids)
                    VALUES ($sample_id, $person_id, $check_id, $concern, $severity, $count, $ids)
                    """,
                    {"sample_id": result.sample_id, "person_id": child.person_id,
                     **{k: v for k, v in concern.items() if k != "agencies"}},
                )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _child_concerns(child: SampleChild) -> list[dict]:
    """One row per check raised for the child: highest severity, count, owners and exception ids."""
    by_check: dict[str, list[OpenException]] = {}
    for exception in child.exceptions:
        by_check.setdefault(exception.check_id, []).append(exception)
    concerns = []
    for check_id, rows in sorted(by_check.items()):
        concerns.append({
            "check_id": check_id,
            "concern": rows[0].concern,
            "severity": max((r.severity for r in rows), key=lambda s: SEVERITY_POINTS.get(s, 1)),
            "count": len(rows),
            "ids": ", ".join(sorted(r.exception_id for r in rows)),
            "agencies": ", ".join(sorted({r.agency for r in rows})),
        })
    return concerns


def write_sample(con: duckdb.DuckDBPyConnection, result: SampleResult, out_dir: str | os.PathLike) -> Path:
    """Record the sample in the store and write `<out_dir>/samples/<sample_id>/audit_sample.xlsx`
    with one HTML pack per child in `packs/`. Returns the workbook's path."""
    record_sample(con, result)
    with owner_only():
        sample_dir = private_dir(Path(out_dir) / "samples" / result.sample_id)
        packs_dir = private_dir(sample_dir / "packs")
        tables = _main_relations(con)
        for child in result.children:
            events = build_chronology(con, child.person_id, result.as_at)
            context = _child_context(con, child.person_id, result.as_at, tables)
            pack = packs_dir / f"{_safe_file_name(child.person_id)}.html"
            pack.write_text(render_pack(result, child, events, context), encoding="utf-8")
            pack.chmod(0o600)
        workbook_path = sample_dir / SAMPLE_FILE
        _write_workbook(result, workbook_path)
        workbook_path.chmod(0o600)
    return workbook_path


def _safe_file_name(person_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in person_id)


def _check_catalogue() -> dict[str, str]:
    """check_id -> concern, from the registry (an empty map if it cannot be read)."""
    try:
        from caseflags.checking.registry import load_registry

        return {check_id: check.concern for check_id, check in load_registry().items()}
    except Exception:  # the sample is still usable without the catalogue's concern texts
        return {}


def _write_workbook(result: SampleResult, path: Path) -> None:
    import xlsxwriter

    catalogue = _check_catalogue()
    workbook = xlsxwriter.Workbook(str(path))
    try:
        header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        top = workbook.add_format({"valign": "top"})
        to_fill = workbook.add_format({"bg_color": "#FFF2CC", "border": 1, "valign": "top"})

        sheet = workbook.add_worksheet(SAMPLE_SHEET)
        columns = ["position", "person_id", "role", "age_band", "need_type", "disabilities", "open_exceptions",
                   "distinct_concerns", "weight", "chance_at_draw", "reasons", "pack"]
        widths = [9, 16, 11, 9, 30, 16, 10, 10, 8, 10, 90, 22]
        for col, (name, width) in enumerate(zip(columns, widths)):
            sheet.write(0, col, name, header)
            sheet.set_column(col, col, width)
        for row, child in enumerate(result.children, start=1):
            values = [child.position, child.person_id, child.role, child.age_band, need_label(child.need_type),
                      child.disabilities, child.open_exception_count, child.distinct_concerns, child.weight,
                      f"{child.probability:.0%}", "\n".join(child.reasons)]
            for col, value in enumerate(values):
                sheet.write(row, col, value, wrap if col == 10 else top)
            pack = f"packs/{_safe_file_name(child.person_id)}.html"
            sheet.write_url(row, 11, f"external:{pack}", string=pack)
        sheet.freeze_panes(1, 2)
        sheet.autofilter(0, 0, max(len(result.children), 1), len(columns) - 1)

        outcomes = workbook.add_worksheet(OUTCOME_SHEET)
        widths = [22, 16, 11, 34, 50, 8, 9, 10, 22, 40, 16, 50]
        for col, (name, width) in enumerate(zip(OUTCOME_COLUMNS, widths)):
            outcomes.write(0, col, name, header)
            outcomes.set_column(col, col, width)
        row = 1
        for child in result.children:
            concerns = _child_concerns(child)
            for concern in concerns:
                values = [result.sample_id, child.person_id, child.role, concern["check_id"],
                          concern["concern"] or catalogue.get(concern["check_id"], ""), "Y", concern["severity"],
                          concern["count"], concern["agencies"], concern["ids"]]
                for col, value in enumerate(values):
                    outcomes.write(row, col, value, top)
                outcomes.write_blank(row, 10, None, to_fill)
                outcomes.write_blank(row, 11, None, to_fill)
                row += 1
            for _ in range(EXTRA_ROWS_PER_CHILD):  # for a concern the auditors find that no check raised
                for col, value in enumerate([result.sample_id, child.person_id, child.role]):
                    outcomes.write(row, col, value, top)
                outcomes.write_blank(row, 3, None, to_fill)
                outcomes.write(row, 5, "N", top)
                outcomes.write_blank(row, 10, None, to_fill)
                outcomes.write_blank(row, 11, None, to_fill)
                row += 1
        last_row = max(row - 1, 1)
        outcomes.data_validation(1, 10, last_row, 10, {
            "validate": "list", "source": list(OUTCOMES),
            "error_title": "Outcome", "error_message": "Choose CONFIRMED or NOT_A_CONCERN",
        })
        check_ids = sorted(catalogue) or sorted({c.check_id for child in result.children for c in child.exceptions})
        lists = workbook.add_worksheet("Lists")
        lists.write(0, 0, "check_id", header)
        for index, check_id in enumerate(check_ids, start=1):
            lists.write(index, 0, check_id)
        lists.hide()
        if check_ids:
            outcomes.data_validation(1, 3, last_row, 3, {
                "validate": "list", "source": f"=Lists!$A$2:$A${len(check_ids) + 1}",
                "error_title": "Check", "error_message": "Choose a check id from the list",
            })
        outcomes.freeze_panes(1, 4)
        outcomes.autofilter(0, 0, last_row, len(OUTCOME_COLUMNS) - 1)

        about = workbook.add_worksheet("About")
        about.set_column(0, 0, 32)
        about.set_column(1, 1, 100)
        facts = [
            ("sample_id", result.sample_id),
            ("as_at", result.as_at.isoformat()),
            ("seed", str(result.seed)),
            ("cohort", result.cohort),
            ("size", str(result.size)),
            ("controls (quota / chosen)", f"{result.controls} / {result.controls_chosen}"),
            ("children in cohort", str(result.cohort_count)),
            ("excluded: audited within", f"{result.exclude_audited_within_days} days ({result.excluded_recently_audited} children)"),
            ("open exceptions from", f"{result.exceptions_source.label} (run as at {result.exceptions_source.as_at})"),
            ("strata in the cohort", "; ".join(result.strata_required)),
            ("strata not in the sample", "; ".join(result.strata_uncovered) or "none"),
            ("warnings", "\n".join(result.warnings) or "none"),
            ("how to record the audit",
             "In the Outcomes sheet set outcome to CONFIRMED or NOT_A_CONCERN for each concern raised "
             "(flagged = Y). For a concern you found that no check raised, pick its check_id on a blank row of "
             "the child and set CONFIRMED. Then import the file with `caseflags sample import-outcomes FILE` "
             f"and record the audit date with `caseflags sample mark-audited {result.sample_id}`."),
        ]
        for index, (name, value) in enumerate(facts):
            about.write(index, 0, name, header)
            about.write(index, 1, value, wrap)
    finally:
        workbook.close()


# The audit pack ---------------------------------------------------------------------------------

CHILD_CONTEXT_SQL = {
    "linked_records": """
        SELECT agency, agency_record_id, method
        FROM person_links WHERE person_id = $person_id
        ORDER BY agency, agency_record_id
    """,
    "family_members": f"""
        SELECT CAST(relationship AS VARCHAR), member_id, {_yes_no('parental_responsibility')},
               {_yes_no('lives_with_child')}
        FROM family_members WHERE person_id = $person_id
        ORDER BY CAST(relationship AS VARCHAR), member_id
    """,
    "allocated_social_worker": """
        SELECT invo_professional_id, invo_involvement_start_date
        FROM ssd_involvements
        WHERE invo_person_id = $person_id AND invo_professional_role_id = 'CW'
          AND invo_involvement_start_date <= $as_at
          AND (invo_involvement_end_date IS NULL OR invo_involvement_end_date > $as_at)
        ORDER BY invo_involvement_start_date, invo_professional_id
    """,
}
CHILD_CONTEXT_TABLES = {
    "linked_records": ("person_links",),
    "family_members": ("family_members",),
    "allocated_social_worker": ("ssd_involvements",),
}


def _child_context(con: duckdb.DuckDBPyConnection, person_id: str, as_at: date, tables: set[str]) -> dict:
    context: dict = {"missing_sources": chronology_sql(tables)[1]}
    for name, sql in CHILD_CONTEXT_SQL.items():
        if set(CHILD_CONTEXT_TABLES[name]) <= tables:
            params = {"person_id": person_id, "as_at": as_at} if "$as_at" in sql else {"person_id": person_id}
            context[name] = con.execute(sql, params).fetchall()
        else:
            context[name] = []
    return context


PACK_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1rem 0 .4rem; }
.meta { color: #444; margin-bottom: 1rem; } .meta span { margin-right: 1.2rem; }
.layout { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1.2rem; align-items: start; }
.side { position: sticky; top: 1rem; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .4rem; text-align: left; vertical-align: top; }
th { background: #eef3f8; } td.date { white-space: nowrap; } td.agency { font-weight: 600; white-space: nowrap; }
.exception { border-left: 4px solid #999; padding: .3rem .5rem; margin-bottom: .5rem; background: #fafafa; }
.HIGH { border-color: #b10e1e; } .MEDIUM { border-color: #d97a00; } .LOW { border-color: #4a7fb5; }
.muted { color: #666; } ul { margin: .2rem 0 .6rem 1.2rem; padding: 0; }
@media print { .layout { display: block; } .side { position: static; } body { margin: 0; } }
"""


def _escape(value: object) -> str:
    return html.escape("" if value is None else str(value))


def render_pack(result: SampleResult, child: SampleChild, events: list[ChronologyEvent], context: dict) -> str:
    """One self-contained HTML page: the chronology, with the child's open exceptions beside it."""
    sources_seen = sorted({part.strip() for e in events for part in e.source_table.split("+")})
    rows = "\n".join(
        f"<tr><td class=\"date\">{_escape(e.event_date.isoformat() if e.event_date else 'undated')}</td>"
        f"<td class=\"agency\">{_escape(e.agency)}</td><td>{_escape(e.event_type)}</td>"
        f"<td>{_escape(e.description)}</td><td class=\"muted\">{_escape(e.source_table).replace('_', '_<wbr>')}</td></tr>"
        for e in events
    ) or "<tr><td colspan=\"5\" class=\"muted\">No events recorded.</td></tr>"
    exceptions = "\n".join(
        f"<div class=\"exception {_escape(x.severity)}\"><strong>{_escape(x.check_id)}</strong> "
        f"({_escape(x.severity)}, owner {_escape(x.agency)}{', ' + _escape(x.status) if x.status else ''})<br>"
        f"{_escape(x.concern)}<br>{_escape(x.detail)}<br><span class=\"muted\">{_escape(x.locator)}</span></div>"
        for x in child.exceptions
    ) or "<p class=\"muted\">No open exceptions: this child is a control.</p>"
    reasons = "".join(f"<li>{_escape(reason)}</li>" for reason in child.reasons)
    linked = "".join(
        f"<li>{_escape(agency)}: {_escape(record_id)} <span class=\"muted\">({_escape(method)})</span></li>"
        for agency, record_id, method in context.get("linked_records", [])
    ) or "<li class=\"muted\">none</li>"
    family = "".join(
        f"<li>{_escape(relation)} {_escape(member)}: parental responsibility {_escape(pr)}, "
        f"lives with child {_escape(lives)}</li>"
        for relation, member, pr, lives in context.get("family_members", [])
    ) or "<li class=\"muted\">none recorded</li>"
    workers = ", ".join(
        f"{_escape(professional)} (from {_escape(start)})" for professional, start in context.get("allocated_social_worker", [])
    ) or "none allocated"
    missing = context.get("missing_sources") or []
    missing_note = (
        f"<p class=\"muted\">Not in the store, so not in this chronology: {_escape(', '.join(missing))}.</p>"
        if missing else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Audit pack {_escape(child.person_id)} ({_escape(result.sample_id)})</title>
<style>{PACK_CSS}</style>
</head>
<body>
<h1>Multi-agency audit pack: child {_escape(child.person_id)}</h1>
<div class="meta">
<span>Sample {_escape(result.sample_id)}, place {child.position} of {len(result.children)}</span>
<span>As at {_escape(result.as_at.isoformat())}</span>
<span>{_escape(child.role.lower())}</span>
<span>Age {_escape(child.age_years)} (band {_escape(child.age_band)})</span>
<span>Need: {_escape(need_label(child.need_type))}</span>
<span>Disabilities: {_escape(child.disabilities or 'none recorded')}</span>
<span>Allocated social worker: {workers}</span>
</div>
<p class="muted">Confidential: for the partnership's auditors only. Record ids and dates are given so each
event can be found in the source system.</p>
<div class="layout">
<main>
<h2>Why this child was chosen</h2>
<ul>{reasons}</ul>
<h2>Chronology ({len(events)} events, all agencies, oldest first)</h2>
<table>
<thead><tr><th>Date</th><th>Agency</th><th>Event</th><th>Detail</th><th>Source</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="muted">Sources with events: {_escape(', '.join(sources_seen) or 'none')}.</p>
{missing_note}
</main>
<aside class="side">
<h2>Open exceptions ({len(child.exceptions)})</h2>
<p class="muted">From {_escape(result.exceptions_source.label)}, run as at {_escape(result.exceptions_source.as_at.isoformat())}.</p>
{exceptions}
<h2>Known to</h2>
<ul>{linked}</ul>
<h2>Family</h2>
<ul>{family}</ul>
</aside>
</div>
</body>
</html>
"""


# Recording the audit --------------------------------------------------------------------------

def mark_audited(con: duckdb.DuckDBPyConnection, sample_id: str, audited_on: date) -> int:
    """Record the date the sample was audited; its children are then left out of later samples
    for the exclusion period. Returns the number of children marked."""
    ensure_audit_tables(con)
    sample = con.execute("SELECT as_at FROM audit_samples WHERE sample_id = $id", {"id": sample_id}).fetchone()
    if sample is None:
        raise SampleError(f"no audit sample {sample_id!r} in the store")
    if audited_on < sample[0]:
        raise SampleError(f"audit date {audited_on} is before the sample's as-at date {sample[0]}")
    con.execute("UPDATE audit_samples SET audited_on = $on WHERE sample_id = $id", {"on": audited_on, "id": sample_id})
    return con.execute(
        "SELECT count(*) FROM audit_sample_children WHERE sample_id = $id", {"id": sample_id}
    ).fetchone()[0]


def _read_outcome_rows(xlsx_path: Path) -> list[dict]:
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(xlsx_path))
    except Exception as exc:  # fastexcel raises its own error types for unreadable files
        raise AuditImportError(f"{xlsx_path.name}: not a readable Excel workbook ({exc})") from None
    if OUTCOME_SHEET not in reader.sheet_names:
        raise AuditImportError(f"{xlsx_path.name}: no sheet named {OUTCOME_SHEET!r}")
    sheet = reader.load_sheet(OUTCOME_SHEET, dtypes="string")
    columns = [c.name for c in sheet.available_columns()]
    absent = [c for c in ("sample_id", "person_id", "check_id", "outcome", "auditor_note") if c not in columns]
    if absent:
        raise AuditImportError(f"{xlsx_path.name}: sheet {OUTCOME_SHEET} lacks column(s) {', '.join(absent)}")
    return sheet.to_arrow().to_pylist()


def _clean(value: object) -> str:
    return "" if value is None else str(value).strip()


def import_audit_outcomes(con: duckdb.DuckDBPyConnection, xlsx_path: str | os.PathLike,
                          recorded_at: datetime) -> ImportSummary:
    """Read the auditors' outcomes from an audit_sample.xlsx into `audit_outcomes`.

    The whole file is validated first; on any problem AuditImportError lists them (with sheet
    row numbers) and nothing is applied. A later import of the same sample replaces the outcomes
    of the (child, check) pairs it contains.
    """
    ensure_audit_tables(con)
    path = Path(xlsx_path)
    rows = _read_outcome_rows(path)
    problems: list[str] = []
    sample_ids = sorted({_clean(r["sample_id"]) for r in rows if _clean(r["sample_id"])})
    if len(sample_ids) != 1:
        raise AuditImportError(
            f"{path.name}: expected rows of one sample, found {len(sample_ids)} sample ids"
            + (f" ({', '.join(sample_ids)})" if sample_ids else "")
        )
    sample_id = sample_ids[0]
    if con.execute("SELECT 1 FROM audit_samples WHERE sample_id = $id", {"id": sample_id}).fetchone() is None:
        raise AuditImportError(f"{path.name}: sample {sample_id} is not in this store")
    children = {r[0] for r in con.execute(
        "SELECT person_id FROM audit_sample_children WHERE sample_id = $id", {"id": sample_id}).fetchall()}
    flagged_pairs = {(r[0], r[1]) for r in con.execute(
        "SELECT person_id, check_id FROM audit_sample_concerns WHERE sample_id = $id", {"id": sample_id}).fetchall()}
    known_checks = set(_check_catalogue()) | {check for _, check in flagged_pairs}

    outcomes: dict[tuple[str, str], tuple[str, str | None]] = {}
    pending = 0
    for line, row in enumerate(rows, start=2):  # sheet row numbers: the header is row 1
        row_sample, person_id = _clean(row["sample_id"]), _clean(row["person_id"])
        check_id, outcome = _clean(row["check_id"]).upper(), _clean(row["outcome"]).upper().replace(" ", "_")
        note = _clean(row["auditor_note"]) or None
        if not any([row_sample, person_id, check_id, outcome, note]):
            continue
        if row_sample and row_sample != sample_id:
            problems.append(f"row {line}: sample_id {row_sample} is not {sample_id}")
        if person_id not in children:
            problems.append(f"row {line}: person_id {person_id or '(blank)'} is not in sample {sample_id}")
            continue
        if not outcome:
            pending += 1 if check_id else 0
            continue
        if outcome not in OUTCOMES:
            problems.append(f"row {line}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
            continue
        if not check_id:
            problems.append(f"row {line}: outcome given without a check_id")
            continue
        if check_id not in known_checks:
            problems.append(f"row {line}: unknown check_id {check_id}")
            continue
        previous = outcomes.get((person_id, check_id))
        if previous is not None and previous[0] != outcome:
            problems.append(f"row {line}: {person_id} {check_id} has conflicting outcomes")
            continue
        outcomes[(person_id, check_id)] = (outcome, note)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise AuditImportError(f"{path.name}: nothing imported: {shown}")

    records = [
        (sample_id, person_id, check_id, (person_id, check_id) in flagged_pairs, outcome, note, recorded_at, path.name)
        for (person_id, check_id), (outcome, note) in sorted(outcomes.items())
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        for record in records:
            con.execute(
                "DELETE FROM audit_outcomes WHERE sample_id = $1 AND person_id = $2 AND check_id = $3", list(record[:3])
            )
        if records:
            con.executemany(
                "INSERT INTO audit_outcomes (sample_id, person_id, check_id, flagged, outcome, auditor_note, "
                "recorded_at, source_file) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                records,
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return ImportSummary(
        sample_id=sample_id,
        rows_imported=len(records),
        confirmed=sum(1 for r in records if r[3] and r[4] == CONFIRMED),
        not_a_concern=sum(1 for r in records if r[3] and r[4] == NOT_A_CONCERN),
        missed=sum(1 for r in records if not r[3] and r[4] == CONFIRMED),
        pending=pending,
    )


CONFIRMATION_RATES_SQL = """
SELECT
    check_id,
    count(*) FILTER (WHERE flagged AND outcome = 'CONFIRMED') AS confirmed,
    count(*) FILTER (WHERE flagged AND outcome = 'NOT_A_CONCERN') AS not_a_concern,
    count(*) FILTER (WHERE NOT flagged AND outcome = 'CONFIRMED') AS missed,
    count(DISTINCT sample_id) AS samples
FROM audit_outcomes
GROUP BY check_id
ORDER BY check_id
"""


def confirmation_rates(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per check, over every recorded audit: how many of the concerns it raised auditors
    confirmed or found not to be a concern, the rate confirmed / (confirmed + not a concern)
    (None before any flagged outcome), and how many concerns auditors found that it missed."""
    ensure_audit_tables(con)
    catalogue = _check_catalogue()
    rates = []
    for check_id, confirmed, not_a_concern, missed, samples in con.execute(CONFIRMATION_RATES_SQL).fetchall():
        judged = confirmed + not_a_concern
        rates.append({
            "check_id": check_id,
            "concern": catalogue.get(check_id),
            "confirmed": confirmed,
            "not_a_concern": not_a_concern,
            "rate": confirmed / judged if judged else None,
            "missed": missed,
            "samples": samples,
        })
    return rates
