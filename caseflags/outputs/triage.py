"""Priority as risk and owners for a run's listed exceptions (sql/outputs/triage.sql).

`record_triage` fills `exception_triage` (priority, priority_reason, owner_name, owner_team, the
central queue reason, the child's social worker, plain-words locator and detail) and
`child_priority` (one row per child, ranked) for the run. Weights come from configuration
[priority]; their rationale is in docs/OUTPUTS.md.
"""

from __future__ import annotations

from datetime import date

import duckdb

from caseflags.checking.calendar import ensure_working_days
from caseflags.checking.registry import load_registry
from caseflags.outputs.organisations import run_sql_file
from caseflags.resources import SQL_DIR, config_default

TRIAGE_SQL = SQL_DIR / "outputs" / "triage.sql"
PRIORITY_KEYS = (
    "weight_high",
    "weight_medium",
    "weight_low",
    "weight_magnitude",
    "magnitude_cap_multiple",
    "weight_week_open",
    "days_open_cap_points",
    "weight_child_protection",
    "weight_child_in_need",
    "weight_ehcp",
    "weight_under_5",
    "weight_harm_or_exploitation",
    "weight_other_concern",
    "other_concerns_cap_points",
)


def default_weights() -> dict[str, float]:
    return {key: float(config_default("priority", key)) for key in PRIORITY_KEYS}


def record_triage(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date, weights: dict | None = None) -> None:
    """Fill exception_triage and child_priority for the run (idempotent). Needs the run's
    exception_agency_rows (record_agency_rows) and its lifecycle."""
    values = {**default_weights(), **{k: float(v) for k, v in (weights or {}).items()}}
    registry = load_registry()
    ensure_working_days(con, as_at)  # and the store, with its macros: they read the calendar
    parameters = {
        "run_id": run_id,
        "as_at": as_at,
        **values,
        "check_ids": list(registry),
        "check_titles": [check.title for check in registry.values()],
    }
    con.execute("BEGIN TRANSACTION")
    try:
        run_sql_file(con, TRIAGE_SQL, parameters)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
