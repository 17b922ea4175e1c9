"""Working days and school days, as the catalogue defines them (England and Wales)."""

from datetime import date, timedelta
from functools import lru_cache

import holidays

ONE_DAY = timedelta(days=1)


class WorkingDays:
    """Monday to Friday, not an England and Wales bank holiday (`holidays`, subdivision ENG)."""

    def __init__(self, first_year: int, last_year: int):
        calendar = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
        self.bank_holidays = frozenset(calendar.keys())

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.bank_holidays

    @lru_cache(maxsize=65536)  # noqa: B019 (one calendar per generator run)
    def add(self, day: date, count: int) -> date:
        """The count-th working day after `day` (`day` itself not counted); negative goes back."""
        step = ONE_DAY if count >= 0 else -ONE_DAY
        remaining = abs(count)
        current = day
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def next_working_day(self, day: date) -> date:
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        while not self.is_working_day(day):
            day -= ONE_DAY
        return day


def academic_year_start(day: date) -> date:
    """1 September of the academic year that contains `day`."""
    year = day.year if day.month >= 9 else day.year - 1
    return date(year, 9, 1)


def last_31_august_before(day: date) -> date:
    year = day.year if (day.month, day.day) > (8, 31) else day.year - 1
    return date(year, 8, 31)


def add_months(day: date, months: int) -> date:
    """Calendar months later (earlier if negative), clamping the day to the month's length."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def age_in_years(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _monday_of_week_containing(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _last_monday(year: int, month: int) -> date:
    day = add_months(date(year, month, 1), 1) - ONE_DAY
    return day - timedelta(days=day.weekday())


def school_days(academic_year_first: date, working_days: WorkingDays) -> list[date]:
    """Term days of one academic year for a typical English maintained school.

    Autumn from the first weekday on or after 2 September to the third Friday of December (half
    term: the week of the last Monday in October); spring from the first weekday on or after
    5 January (half term: the week containing 16 February) to the Friday before Good Friday's
    week; summer from the Monday after Easter Monday's week to 22 July (half term: the week of
    the spring bank holiday). Bank holidays never count.
    """
    year = academic_year_first.year
    easter_holiday_days = [d for d in working_days.bank_holidays if d.year == year + 1 and d.month in (3, 4)]
    good_friday = min(easter_holiday_days) if easter_holiday_days else date(year + 1, 4, 3)
    closed_weeks = {
        _last_monday(year, 10),
        _monday_of_week_containing(date(year + 1, 2, 16)),
        _monday_of_week_containing(good_friday),
        _monday_of_week_containing(good_friday + timedelta(days=3)),
        _last_monday(year + 1, 5),
    }
    december = date(year, 12, 1)
    third_friday = december + timedelta(days=(4 - december.weekday()) % 7 + 14)
    terms = [
        (date(year, 9, 2), third_friday),
        (date(year + 1, 1, 5), good_friday - timedelta(days=1)),
        (good_friday + timedelta(days=4), date(year + 1, 7, 22)),
    ]
    days = []
    for first, last in terms:
        day = first
        while day <= last:
            if working_days.is_working_day(day) and _monday_of_week_containing(day) not in closed_weeks:
                days.append(day)
            day += ONE_DAY
    return days
