"""Planted truth, one module per check, mirroring `checks/`: `truth/<check_id>.py` (lower case,
as `tests/checks/test_<check_id>.py`).

Each module declares, for its check:

- `CHECK_ID` and `SCENARIOS`: its planted exceptions and near-misses (which children, how often);
- `truth(ev, facts)`: the truth rows `(check_id, person_id, owner agency, entity_id)` the catalogue
  implies for one LA child, in plain Python over the child's rows (never SQL, never the project's
  check code; `ev` holds the shared derivations of `sample_data/_truth.py`);
- optionally `COHORT = "known"` (judged for every LA child, not only children in need),
  `before_build(world, person, scenario)` (facts fixed before the child is built, e.g. a date of
  birth) and `plant(builder, scenario)` (rows changed once the compliant child is built; a new
  check plants here, with `builder.plant_rng(CHECK_ID)`).

The generator reads this package only: a new check adds its module and nothing else here.
The checks planted since the first sample keep their order (`FIRST_ORDER`) so a seed keeps giving
the same bytes; a new check's scenarios are assigned after them, so they take no child from them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Scenario:
    name: str
    check_id: str
    near_miss: bool
    rate: float  # share of the CiN children (of the cohort for other cohorts), at least one child
    group: str  # at most one scenario of a group per child: they shape the same facts
    description: str
    cohort: str = "cin"  # "cin", "closed", "ehcp_only"
    eligible: Callable | None = None  # (base child) -> bool
    sets_dob: bool = False  # assigned before every other scenario: it fixes the date of birth (and school)


def compulsory(child) -> bool:
    return 5 <= child.age_aug31 <= 15


def has_history(child) -> bool:
    """Old enough for several years of history (worker changes, old reviews, an old S47)."""
    return child.age_aug31 >= 2


FIRST_ORDER = (
    "CIN_EHCP_FLAG_MISSING",
    "VOICE_OF_CHILD_ABSENT",
    "CIN_PLAN_NOT_SMART",
    "CIN_REVIEW_OVERDUE",
    "COMMUNICATION_DELAYED",
    "SCHOOL_ATTENDANCE_LOW",
    "ATTENDANCE_DATA_MISSING",
    "PERPLEXING_PRESENTATION_UNASSESSED",
    "ESCALATION_NOT_USED",
    "TRANSITION_PLAN_MISSING",
    "SOCIAL_WORKER_CHANGES_FREQUENT",
    "SOCIAL_WORKER_UNALLOCATED",
    "SOCIAL_WORKER_STALE_IN_PARTNER",
    "FATHER_VOICE_ABSENT",
    "ICPC_CANCELLATION_NOT_COMMUNICATED",
    "SELF_HARM_NOT_SHARED",
    "GP_NOT_INVITED",
    "GP_NOT_KNOWN",
    "MULTI_AGENCY_VISIT_LOAD",
    "INVOLVED_AGENCY_NOT_ON_PLAN",
    "IDENTITY_UNMATCHED",
    "IDENTITY_CONFLICT",
    "INVALID_IDENTIFIER",
)


def _load() -> dict[str, ModuleType]:
    here = Path(__file__).resolve().parent
    modules = {}
    for stem in sorted(path.stem for path in here.glob("*.py") if not path.stem.startswith("_")):
        module = importlib.import_module(f"{__name__}.{stem}")
        if module.CHECK_ID.lower() != stem or any(s.check_id != module.CHECK_ID for s in module.SCENARIOS):
            raise ValueError(f"sample_data/truth/{stem}.py: CHECK_ID and every scenario's check must be {stem.upper()}")
        modules[module.CHECK_ID] = module
    first = [check_id for check_id in FIRST_ORDER if check_id in modules]
    return {check_id: modules[check_id] for check_id in first + sorted(set(modules) - set(first))}


PLANTED: dict[str, ModuleType] = _load()
SCENARIOS: list[Scenario] = [scenario for module in PLANTED.values() for scenario in module.SCENARIOS]
SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
NEEDS_HISTORY = {scenario.name for scenario in SCENARIOS if scenario.eligible is has_history}
# Scenarios (of different checks) that cannot share a child: the first needs facts the second takes away.
INCOMPATIBLE = {
    frozenset(pair)
    for pair in [
        ("gp_not_invited", "new_plan_no_review"),
        ("minutes_late", "new_plan_no_review"),
        ("gp_not_invited", "gp_meeting_cancelled"),
        ("flag_missing_partner", "agency_not_on_plan"),
        ("no_education_age4", "gp_none"),
    ]
    + [
        (review, extra_meeting)
        for review in ("review_overdue", "review_edge")
        for extra_meeting in ("minutes_not_shared", "minutes_bank_holiday_edge", "minutes_pending")
    ]
    + [("new_plan_no_review", long_history) for long_history in NEEDS_HISTORY]
}


def cohort_of(module: ModuleType) -> str:
    return getattr(module, "COHORT", "cin")


def evaluate(ev, facts) -> list[tuple[str, str, str, str]]:
    """Truth rows (check_id, person_id, owner agency, entity_id) for one LA child, every check."""
    cin = ev.is_cin(facts)
    found: list[tuple[str, str, str, str]] = []
    for module in PLANTED.values():
        if cin or cohort_of(module) == "known":
            found += module.truth(ev, facts)
    return found


def plant(builder) -> None:
    """Each check's `plant` hook, for the scenarios the child was given, once it is built."""
    for name in sorted(builder.s):
        hook = getattr(PLANTED[SCENARIOS_BY_NAME[name].check_id], "plant", None)
        if hook is not None:
            hook(builder, name)
