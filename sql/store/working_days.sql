-- The working-day calendar (docs/ARCHITECTURE.md, "Cohort and dates"): one row per day of the
-- range a run needs, filled by caseflags.checking.calendar (sql/store/working_days_fill.sql).
-- The macros of sql/macros.sql read it, so it exists (empty) from the store's creation on.
CREATE TABLE IF NOT EXISTS working_days (
    day DATE,
    is_working_day BOOLEAN,         -- Monday to Friday and not an England and Wales bank holiday
    working_day_number INTEGER      -- working days from the range's first day up to and including `day`
);
