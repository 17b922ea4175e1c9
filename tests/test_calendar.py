from datetime import date

import pytest
from check_fixtures import new_store

from caseflags.checking.calendar import build_working_days, calendar_range_for, ensure_working_days


@pytest.fixture
def con():
    con = new_store()
    build_working_days(con, date(2022, 1, 1), date(2027, 12, 31))
    con.execute(open(__import__("caseflags.resources").resources.SQL_DIR / "macros.sql").read())
    return con


def _one(con, sql, **params):
    return con.execute(sql, params).fetchone()[0]


def test_weekends_and_bank_holidays_are_not_working_days(con):
    rows = dict(
        con.execute(
            "SELECT day, is_working_day FROM working_days WHERE day BETWEEN '2026-08-28' AND '2026-09-01'"
        ).fetchall()
    )
    assert rows == {
        date(2026, 8, 28): True,  # Friday
        date(2026, 8, 29): False,  # Saturday
        date(2026, 8, 30): False,  # Sunday
        date(2026, 8, 31): False,  # Summer bank holiday
        date(2026, 9, 1): True,
    }
    # Substitute and one-off bank holidays are included.
    for day in (date(2022, 12, 27), date(2022, 9, 19), date(2023, 5, 8), date(2026, 12, 28)):
        assert _one(con, "SELECT is_working_day FROM working_days WHERE day = $d", d=day) is False
    assert _one(con, "SELECT count(*) FROM working_days WHERE is_working_day AND year(day) = 2026") == 261 - 8


def test_working_day_number_counts_up_to_and_including_the_day(con):
    first = _one(con, "SELECT working_day_number FROM working_days WHERE day = '2022-01-01'")
    assert first == 0  # Saturday, first day of the calendar
    assert (
        _one(con, "SELECT working_day_number FROM working_days WHERE day = '2022-01-04'") == 1
    )  # 3 Jan is a substitute holiday


def test_add_working_days_skips_weekend_and_bank_holiday(con):
    assert _one(con, "SELECT add_working_days(DATE '2026-08-27', 5)") == date(2026, 9, 4)
    assert _one(con, "SELECT add_working_days(DATE '2026-08-29', 1)") == date(2026, 9, 1)  # from a Saturday
    assert _one(con, "SELECT add_working_days(DATE '2026-12-24', 1)") == date(2026, 12, 29)
    assert _one(con, "SELECT add_working_days(DATE '2030-01-01', 1)") is None  # outside the calendar


def test_working_days_between(con):
    assert _one(con, "SELECT working_days_between(DATE '2026-08-27', DATE '2026-09-04')") == 5
    assert _one(con, "SELECT working_days_between(DATE '2026-08-29', DATE '2026-08-31')") == 0
    assert _one(con, "SELECT working_days_between(DATE '2026-11-10', DATE '2026-11-24')") == 10


def test_ages_and_school_years(con):
    assert _one(con, "SELECT age_years(DATE '2011-05-24', DATE '2026-05-23')") == 14
    assert _one(con, "SELECT age_years(DATE '2011-05-24', DATE '2026-05-24')") == 15
    assert _one(con, "SELECT age_years(DATE '2012-02-29', DATE '2026-02-28')") == 13  # leap-day birthday: 1 March
    assert _one(con, "SELECT age_years(DATE '2012-02-29', DATE '2026-03-01')") == 14
    assert _one(con, "SELECT age_months(DATE '2011-05-24', DATE '2026-11-24')") == 186  # 15 years 6 months
    assert _one(con, "SELECT age_months(DATE '2011-05-25', DATE '2026-11-24')") == 185
    assert _one(con, "SELECT academic_year_start(DATE '2026-08-31')") == date(2025, 9, 1)
    assert _one(con, "SELECT academic_year_start(DATE '2026-09-01')") == date(2026, 9, 1)
    assert _one(con, "SELECT age_on_31_august_before(DATE '2021-08-31', DATE '2026-11-24')") == 5
    assert _one(con, "SELECT age_on_31_august_before(DATE '2021-09-01', DATE '2026-11-24')") == 4
    assert _one(con, "SELECT is_compulsory_school_age(DATE '2010-09-01', DATE '2026-11-24')") is True
    assert _one(con, "SELECT is_compulsory_school_age(DATE '2010-08-31', DATE '2026-11-24')") is False


def test_ensure_working_days_builds_once_for_the_run_range():
    con = new_store()
    as_at = date(2026, 11, 24)
    ensure_working_days(con, as_at)
    start, end = calendar_range_for(as_at)
    assert con.execute("SELECT min(day), max(day) FROM working_days").fetchone() == (start, end)
    assert start <= date(2016, 1, 1) and end >= date(2027, 12, 31)
    con.execute("UPDATE working_days SET is_working_day = is_working_day")  # untouched on a second call
    ensure_working_days(con, date(2026, 6, 1))
    assert con.execute("SELECT min(day), max(day) FROM working_days").fetchone() == (start, end)
    ensure_working_days(con, date(2030, 6, 1))  # a later run extends the range
    assert con.execute("SELECT max(day) FROM working_days").fetchone()[0] == date(2032, 12, 31)
