"""Good practice seen: the report section listing children whose records show what the audit praised.

Not exceptions: nothing here is stored as an exception or owned by an agency. The rules are in
`sql/good_practice.sql` (one SELECT, bound `$as_at` and `$window_days`); see CHECKS.md, "Good
practice seen".
"""

from __future__ import annotations

from datetime import date

import duckdb

from caseflags.checking.calendar import ensure_working_days
from caseflags.resources import SQL_DIR

GOOD_PRACTICE_SQL = SQL_DIR / "good_practice.sql"

# The practices and the words the report uses for them.
PRACTICES = {
    "JOINT_VISITS": "Joint visits used",
    "CHILD_ATTENDED_REVIEW": "Child attended their own review",
    "NON_VERBAL_VOICE_BY_OBSERVATION": "Voice of a non-verbal child captured by observation",
    "REGULAR_FAMILY_CONTACT": "Regular contact with the family (a visit in every 4-week span)",
}


def good_practice(con: duckdb.DuckDBPyConnection, as_at: date, window_days: int = 90) -> list[dict]:
    """Rows of person_id, practice, evidence for children CiN at `as_at`, over the window of
    `window_days` days up to and including `as_at`, ordered by person and practice.

    Prepares the working-day calendar and the shared macros (as the check runner does) in the
    connection, then runs one set-based query. Expects a store with every contract table
    (`caseflags.store.database.ensure_store`); a table with no rows simply shows no practice.
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    ensure_working_days(con, as_at)  # and the store, with its macros
    cursor = con.execute(GOOD_PRACTICE_SQL.read_text(), {"as_at": as_at, "window_days": window_days})
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
