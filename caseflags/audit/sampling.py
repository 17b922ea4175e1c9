"""Choosing the next audit sample from the findings (docs/AUDIT_SAMPLE.md).

`choose_sample` picks children from the audit cohort, weighted by each child's open
exceptions, spanning age bands and need types, leaving out children audited recently, with a
quota of children with no exceptions as controls. The seed (drawn from the OS when not given)
is recorded so the sample can be drawn again. Queries: `sql/audit/*.sql`.

Choosing only reads: it writes nothing but TEMP tables of its own connection, so it runs as well
on the store (`caseflags sample`, which then records the result with `record_sample`) as on a
read-only cursor of the web snapshot (the workspace's Audit sample page, which records it in the
workspace database). For the same data and seed both give the same sample.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

import duckdb

from caseflags.audit.model import (
    COHORTS,
    CONTROL,
    FLAGGED,
    SEVERITY_POINTS,
    ExceptionSource,
    OpenException,
    SampleChild,
    SampleError,
    SampleResult,
    age_band,
    children_text,
    need_label,
)
from caseflags.resources import config_default, sql_text

# Temp table of the open exceptions sampled from; the cohort and child queries read it.
OPEN_EXCEPTIONS_TABLE = "audit_open_exceptions"
# Temp table of the children audited and when (the store's audit tables plus any given); cohort.sql reads it.
AUDITED_CHILDREN_TABLE = "audit_audited_children"
# Columns the `exceptions_current` view must have to be used as the source.
_CURRENT_VIEW_COLUMNS = {"as_at", "status", "first_seen"}


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
    run = con.execute(sql_text("audit/latest_run.sql"), {"as_at": as_at}).fetchone()
    if run is None:
        raise SampleError(f"no completed run on or before {as_at}: run `caseflags run` first")
    run_id, run_as_at = run
    use_current = False
    if _CURRENT_VIEW_COLUMNS <= set(_relation_columns(con, "exceptions_current")):
        current_as_at = con.execute("SELECT max(as_at) FROM exceptions_current").fetchone()[0]
        use_current = current_as_at == run_as_at
    if use_current:
        con.execute(sql_text("audit/open_exceptions_current.sql"))
        label = "exceptions_current"
    else:
        con.execute(sql_text("audit/open_exceptions_of_run.sql"), {"run_id": run_id})
        label = f"exceptions run {run_id}"
    count = con.execute(f"SELECT count(*) FROM {OPEN_EXCEPTIONS_TABLE}").fetchone()[0]
    return ExceptionSource(label=label, as_at=run_as_at, count=count)


def audited_children(con: duckdb.DuckDBPyConnection, also_audited: Iterable[tuple[str, date]] = ()) -> int:
    """Fill the temp table `audit_audited_children` (person_id, audited_on) from the store's audit
    tables, when it has them, and `also_audited` (children marked audited elsewhere and not yet in
    these tables: the web workspace's marks). Returns how many rows it holds."""
    con.execute(sql_text("audit/audited_children.sql"))
    if {"audit_samples", "audit_sample_children"} <= set(_main_tables(con)):
        con.execute(sql_text("audit/audited_children_store.sql"))
    extra = [(person_id, audited_on) for person_id, audited_on in also_audited]
    if extra:
        con.executemany(sql_text("audit/audited_children_add.sql"), extra)
    return con.execute(f"SELECT count(*) FROM {AUDITED_CHILDREN_TABLE}").fetchone()[0]


def _main_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    return [row[0] for row in rows]


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


def _coverable(
    uncovered: frozenset[Value],
    flagged_cells: set[Cell],
    control_cells: set[Cell],
    flagged_places: int,
    control_places: int,
) -> bool:
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


def _relax_strata(
    required: set[Value], eligible: list[_Candidate], flagged_places: int, control_places: int
) -> list[Value]:
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


def _sample_id(
    as_at: date,
    seed: int,
    cohort: str,
    size: int,
    controls: int,
    exclude_days: int,
    source: ExceptionSource,
    person_ids: list[str],
) -> str:
    key = "|".join(
        [
            as_at.isoformat(),
            str(seed),
            cohort,
            str(size),
            str(controls),
            str(exclude_days),
            source.label,
            source.as_at.isoformat(),
            *person_ids,
        ]
    )
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
    size: int = config_default("sample", "size"),
    seed: int | None = None,
    controls: int = config_default("sample", "controls"),
    exclude_audited_within_days: int = config_default("sample", "exclude_audited_within_days"),
    cohort: str = config_default("sample", "cohort"),
    also_audited: Iterable[tuple[str, date]] = (),
) -> SampleResult:
    """Choose `size` children from the cohort at as_at (see the module and docs/AUDIT_SAMPLE.md).

    Reads only (TEMP tables aside): recording the result is `record_sample`'s, or the web
    workspace's. `also_audited`: (person_id, audited_on) of audits recorded outside the store's
    audit tables, excluded like those in them.

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
    source = open_exceptions(con, as_at)
    audited_children(con, also_audited)
    rows = con.execute(
        sql_text("audit/cohort.sql"), {"as_at": as_at, "cohort": cohort, "exclude_days": exclude_audited_within_days}
    ).fetchall()
    cohort_count = len(rows)
    excluded = sum(1 for row in rows if row[8])
    eligible = [
        _Candidate(
            person_id=row[0],
            age_years=row[1],
            age_band=age_band(row[1]),
            need_type=row[2],
            disabilities=row[3],
            open_exceptions=row[4],
            distinct_concerns=row[5],
            weight=row[6],
        )
        for row in rows
        if not row[8]
    ]
    if cohort_count == 0:
        raise SampleError(f"the {cohort} cohort is empty at {as_at}")
    if len(eligible) < size:
        raise SampleError(
            f"only {len(eligible)} of {cohort_count} children in the {cohort} cohort at {as_at} are eligible "
            f"({excluded} audited on or after {as_at - timedelta(days=exclude_audited_within_days - 1)}, "
            f"exclusion {exclude_audited_within_days} days): choose a size of at most "
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
            f"strata not all coverable with {children_text(size)} (every age band and need type needs at least "
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
            if _coverable(
                uncovered - set(_values(cell)),
                cells_left[FLAGGED],
                cells_left[CONTROL],
                places[FLAGGED],
                places[CONTROL],
            ):
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
    for row in con.execute(sql_text("audit/child_exceptions.sql"), {"person_ids": person_ids}).fetchall():
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
        children.append(
            SampleChild(
                person_id=candidate.person_id,
                position=position,
                role=candidate.role,
                age_years=candidate.age_years,
                age_band=candidate.age_band,
                need_type=candidate.need_type,
                disabilities=candidate.disabilities,
                open_exception_count=candidate.open_exceptions,
                distinct_concerns=candidate.distinct_concerns,
                weight=candidate.draw_weight,
                probability=probability,
                reasons=tuple(reasons),
                exceptions=tuple(exceptions),
            )
        )

    uncovered_values = sorted(all_values - covered)
    if required - covered:  # only when the search gave up or a pool ran short: say so
        warnings.append(
            "strata left out of the sample: " + "; ".join(_value_text(v) for v in sorted(required - covered))
        )
    return SampleResult(
        sample_id=_sample_id(as_at, seed, cohort, size, controls, exclude_audited_within_days, source, person_ids),
        as_at=as_at,
        seed=seed,
        cohort=cohort,
        size=size,
        controls=controls,
        exclude_audited_within_days=exclude_audited_within_days,
        exceptions_source=source,
        cohort_count=cohort_count,
        excluded_recently_audited=excluded,
        strata_required=tuple(_value_text(v) for v in sorted(all_values)),
        strata_uncovered=tuple(_value_text(v) for v in uncovered_values),
        children=tuple(children),
        warnings=tuple(warnings),
    )
