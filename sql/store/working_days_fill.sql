-- Refill the calendar for the days from start to end (caseflags.checking.calendar.build_working_days),
-- given the bank holidays in that range (from the `holidays` package, subdivision ENG).
DELETE FROM working_days;

INSERT INTO working_days
WITH calendar_days AS (
    SELECT CAST(day AS DATE) AS day
    FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(day)
),
bank_holidays AS (
    SELECT DISTINCT unnest(CAST($holidays AS DATE[])) AS day
),
classified_days AS (
    SELECT
        calendar_days.day,
        isodow(calendar_days.day) <= 5 AND bank_holidays.day IS NULL AS is_working_day
    FROM calendar_days
    LEFT JOIN bank_holidays ON bank_holidays.day = calendar_days.day
)
SELECT
    day,
    is_working_day,
    CAST(sum(CASE WHEN is_working_day THEN 1 ELSE 0 END) OVER (ORDER BY day) AS INTEGER)
        AS working_day_number
FROM classified_days
ORDER BY day;
