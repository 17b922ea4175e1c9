"""Attendance sessions: one row per pupil per AM/PM session, streamed pupil by pupil.

Absence is drawn per session from a pupil-level absence rate (most pupils above 90 %, a tail
of persistent and severe absence); planted pupils get exact counts. The counts the truth needs
(rows, possible and missed sessions per academic year) are returned, never re-read from disk.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np

from ._calendar import WorkingDays, academic_year_start, school_days

PRESENT = {"AM": "/", "PM": "\\"}
APPROVED_ACTIVITY = ["K", "V", "P", "W", "B"]
AUTHORISED = ["I", "I", "I", "I", "I", "M", "M", "C", "C1", "C2", "E", "J1", "R", "S", "T"]
UNAUTHORISED = ["O", "O", "O", "G", "N", "U"]
NOT_POSSIBLE = ["Y1", "Y2", "Y3", "Y5", "#", "Q"]
ABSENCE_CODES = AUTHORISED + UNAUTHORISED


@dataclass
class AttendancePlan:
    absence_rate: float
    previous_year_absence_rate: float | None = None  # None: same as this year
    on_roll_from: date | None = None  # first session date at this school (earlier years elsewhere)
    current_missed_exactly: int | None = None  # planted pupils: exact missed count this year
    make_possible_multiple_of_ten: bool = False  # exact 10 % needs possible sessions divisible by 10


class SessionGrid:
    """Every school session from 1 September of the previous academic year to the as-at date."""

    def __init__(self, as_at: date, working_days: WorkingDays):
        current_start = academic_year_start(as_at)
        previous_start = date(current_start.year - 1, 9, 1)
        self.current_start, self.previous_start = current_start, previous_start
        days = [d for d in school_days(previous_start, working_days) if d < current_start]
        days += [d for d in school_days(current_start, working_days) if d <= as_at]
        self.dates = [d for d in days for _ in (0, 1)]
        self.halves = ["AM", "PM"] * len(days)
        self.is_current = np.array([d >= current_start for d in self.dates])
        self.line_suffix = [f",{d.isoformat()},{h}," for d, h in zip(self.dates, self.halves)]
        self.present_code = np.array([PRESENT[h] for h in self.halves], dtype=object)
        self.date_ordinals = np.array([d.toordinal() for d in self.dates])

    def current_school_days(self) -> list[date]:
        return sorted({d for d in self.dates if d >= self.current_start})


def pupil_sessions(
    grid: SessionGrid, upn: str, school_urn: str, plan: AttendancePlan, rng: np.random.Generator
) -> tuple[list[str], dict[str, list[int]]]:
    """CSV lines for one pupil and {"current"|"previous": [rows, possible, missed]}."""
    n = len(grid.dates)
    on_roll = np.ones(n, dtype=bool)
    if plan.on_roll_from is not None:
        # joined this academic year; last year's sessions came from the previous school
        on_roll = ~grid.is_current | (grid.date_ordinals >= plan.on_roll_from.toordinal())
    rates = np.where(
        grid.is_current,
        plan.absence_rate,
        plan.absence_rate if plan.previous_year_absence_rate is None else plan.previous_year_absence_rate,
    )
    draw = rng.random(n)
    codes = grid.present_code.copy()
    absent = draw < rates
    late = (~absent) & (draw > 0.975)
    approved = (~absent) & (draw > 0.965) & (draw <= 0.975)
    not_possible = (~absent) & (draw > 0.962) & (draw <= 0.965)
    codes[late] = "L"
    codes[approved] = rng.choice(APPROVED_ACTIVITY, size=int(approved.sum()))
    codes[not_possible] = rng.choice(NOT_POSSIBLE, size=int(not_possible.sum()))
    codes[absent] = rng.choice(ABSENCE_CODES, size=int(absent.sum()))

    if plan.current_missed_exactly is not None:
        current = np.flatnonzero(grid.is_current & on_roll)
        codes[current] = grid.present_code[current]
        possible_indices = current
        if plan.make_possible_multiple_of_ten:
            surplus = len(current) % 10
            codes[current[:surplus]] = "#"  # planned partial closure: not a possible session
            possible_indices = current[surplus:]
        chosen = rng.choice(possible_indices, size=plan.current_missed_exactly, replace=False)
        codes[chosen] = rng.choice(ABSENCE_CODES, size=len(chosen))

    head = f"{upn},{school_urn}"
    lines = [head + suffix + code + "\n" for suffix, code, keep in zip(grid.line_suffix, codes, on_roll) if keep]
    kept = on_roll

    counts = {}
    is_absent = np.isin(codes, ABSENCE_CODES)
    is_possible = ~np.isin(codes, NOT_POSSIBLE)
    for key, mask in (("current", grid.is_current), ("previous", ~grid.is_current)):
        selected = mask & kept
        counts[key] = [int(selected.sum()), int((selected & is_possible).sum()), int((selected & is_absent).sum())]
    return lines, counts


def exact_current_possible(grid: SessionGrid, on_roll_from: date | None = None) -> int:
    mask = grid.is_current
    if on_roll_from is not None:
        mask = mask & (grid.date_ordinals >= on_roll_from.toordinal())
    return int(mask.sum())


def summary_row(grid: SessionGrid, upn: str, school_urn: str, absence_rate: float, rng) -> tuple[dict, list[int]]:
    """A termly total for schools that send summaries: period 1 September to the last school day."""
    days = grid.current_school_days()
    possible = 2 * len(days)
    missed = int(round(possible * absence_rate))
    unauthorised = int(round(missed * rng.uniform(0.1, 0.4)))
    row = {
        "upn": upn,
        "school_urn": school_urn,
        "period_start": grid.current_start,
        "period_end": days[-1],
        "possible_sessions": possible,
        "present_sessions": possible - missed,
        "authorised_absence_sessions": missed - unauthorised,
        "unauthorised_absence_sessions": unauthorised,
    }
    return row, [1, possible, missed]


def draw_absence_rate(rng, child_in_need: bool) -> float:
    """Pupil-level absence: most pupils under 10 %, a tail of persistent and severe absence.

    Children in need are absent far more than their peers (DfE: roughly a third to a half are
    persistently absent), so their mixture has a heavier tail.
    """
    roll = rng.random()
    if child_in_need:
        if roll < 0.55:
            return rng.betavariate(2, 45)
        if roll < 0.85:
            return rng.uniform(0.10, 0.30)
        if roll < 0.95:
            return rng.uniform(0.30, 0.50)
        return rng.uniform(0.50, 0.85)
    if roll < 0.82:
        return rng.betavariate(2, 50)
    if roll < 0.97:
        return rng.uniform(0.08, 0.25)
    return rng.uniform(0.25, 0.70)
