"""Working-day calendar for England and Wales, held as a table in the store.

Checks count working days by joining `working_days` (or through the macros in
`sql/macros.sql`), so bank holidays are looked up once per run, never per row.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import duckdb
import holidays

from caseflags.resources import sql_text
from caseflags.store.database import ensure_store

# Twenty years back covers plans, actions and allocations that checks may date from; two years on
# covers scheduled meetings and due dates after the as-at date.
YEARS_BEFORE_AS_AT = 20
YEARS_AFTER_AS_AT = 2


@lru_cache(maxsize=8)
def bank_holidays(start: date, end: date) -> tuple[date, ...]:
    """England and Wales bank holidays (including substitute days and one-off holidays).

    Cached: the `holidays` package takes a noticeable time to compute two decades.
    """
    calendar = holidays.country_holidays("GB", subdiv="ENG", years=range(start.year, end.year + 1))
    return tuple(sorted(day for day in calendar if start <= day <= end))


def build_working_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> None:
    """Refill `working_days(day, is_working_day, working_day_number)` (sql/store/working_days.sql)
    for start..end.

    `working_day_number` counts working days from `start` up to and including `day`, so the
    number of working days after A up to and including B is number(B) - number(A), and the
    n-th working day after A is the working day numbered number(A) + n.
    """
    if end < start:
        raise ValueError("calendar end is before its start")
    ensure_store(con)
    parameters = {"start": start, "end": end, "holidays": list(bank_holidays(start, end))}
    for statement in re.split(r";\s*$", sql_text("store/working_days_fill.sql"), flags=re.MULTILINE):
        if statement.strip():
            con.execute(statement, {k: v for k, v in parameters.items() if f"${k}" in statement}).fetchall()


def calendar_range_for(as_at: date) -> tuple[date, date]:
    """The range of days the checks of one run may need."""
    return date(as_at.year - YEARS_BEFORE_AS_AT, 1, 1), date(as_at.year + YEARS_AFTER_AS_AT, 12, 31)


def ensure_working_days(con: duckdb.DuckDBPyConnection, as_at: date) -> None:
    """Build the calendar unless the store already holds one covering the run's range."""
    start, end = calendar_range_for(as_at)
    ensure_store(con)
    first, last = con.execute("SELECT min(day), max(day) FROM main.working_days").fetchall()[0]
    if first is not None and first <= start and last >= end:
        return
    build_working_days(con, start, end)
