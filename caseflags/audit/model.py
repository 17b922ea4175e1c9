"""The audit sample's vocabulary and its record in the store.

Constants, the dataclasses every audit module passes around, the store tables
(`sql/audit/tables.sql`) and `record_sample`. The package (docs/AUDIT_SAMPLE.md):

- `sampling`: choose the children (`open_exceptions`, `choose_sample`);
- `chronology`: every event across agencies for one child, and the pack's context;
- `pack`: one self-contained HTML page per child;
- `workbook`: `audit_sample.xlsx` and `write_sample` (the files of a sample);
- `outcomes`: `mark_audited`, `import_audit_outcomes`, `confirmation_rates`.

Nothing here reads the clock: dates come in as parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import duckdb

from caseflags.checking.registry import SEVERITIES, load_registry
from caseflags.resources import sql_text
from caseflags.store.database import ensure_store

COHORTS = ("CIN_WITH_ACTIVE_EHCP", "CIN", "ACTIVE_EHCP")


def cohort_problems(sections: Mapping[str, Any], source: str) -> list[str]:
    """The configuration's sample.cohort against the cohorts a sample is drawn from."""
    cohort = sections["sample"]["cohort"]
    return [] if cohort in COHORTS else [f"{source}: sample.cohort must be one of {', '.join(COHORTS)}, got {cohort!r}"]


FLAGGED = "FLAGGED"
CONTROL = "CONTROL"
CONFIRMED = "CONFIRMED"
NOT_A_CONCERN = "NOT_A_CONCERN"
OUTCOMES = (CONFIRMED, NOT_A_CONCERN)

# Weight of a concern by the highest severity of its exceptions for the child: HIGH 3, MEDIUM 2,
# LOW 1, from the severities' one order (as sql/audit/cohort.sql's 4 - severity_rank).
SEVERITY_POINTS = {severity: len(SEVERITIES) - rank for rank, severity in enumerate(SEVERITIES)}

# (lowest age, highest age or None, label); ages in whole years at the as-at date.
AGE_BANDS = ((0, 4, "0-4"), (5, 10, "5-10"), (11, 15, "11-15"), (16, 18, "16-18"), (19, None, "19+"))
UNKNOWN_AGE_BAND = "unknown"

# CIN census primary need codes.
NEED_LABELS = {
    "N0": "not stated",
    "N1": "abuse or neglect",
    "N2": "child's disability or illness",
    "N3": "parental disability or illness",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
    "N9": "cases other than children in need",
}
NO_OPEN_EPISODE = "NO_OPEN_EPISODE"  # not CiN at D (ACTIVE_EHCP cohort)
NEED_NOT_RECORDED = "NOT_RECORDED"  # open episode without a primary need code

SAMPLE_FILE = "audit_sample.xlsx"
SAMPLE_SHEET = "Sample"
OUTCOME_SHEET = "Outcomes"
OUTCOME_COLUMNS = (
    "sample_id",
    "person_id",
    "role",
    "check_id",
    "concern",
    "flagged",
    "severity",
    "exception_count",
    "owner_agencies",
    "exception_ids",
    "outcome",
    "auditor_note",
)
EXTRA_ROWS_PER_CHILD = 2  # blank rows per child for concerns auditors find that no check raised


class SampleError(Exception):
    """The sample cannot be chosen or recorded; the message says why in one line."""


class AuditImportError(Exception):
    """An outcome file that cannot be imported; nothing was applied. The message lists the problems."""


@dataclass(frozen=True)
class OpenException:
    exception_id: str
    check_id: str
    concern: str | None
    severity: str
    agency: str
    entity_type: str
    entity_id: str
    detail: str | None
    locator: str | None
    status: str | None = None
    first_seen: date | None = None


@dataclass(frozen=True)
class ExceptionSource:
    """Where open exceptions were read from: a label for the record and the run's as-at date."""

    label: str
    as_at: date
    count: int


@dataclass(frozen=True)
class SampleChild:
    person_id: str
    position: int
    role: str  # FLAGGED / CONTROL
    age_years: int | None
    age_band: str
    need_type: str
    disabilities: str
    open_exception_count: int
    distinct_concerns: int
    weight: int
    probability: float  # the chance this child had at its draw
    reasons: tuple[str, ...]
    exceptions: tuple[OpenException, ...] = ()


@dataclass(frozen=True)
class SampleResult:
    sample_id: str
    as_at: date
    seed: int
    cohort: str
    size: int
    controls: int  # requested quota
    exclude_audited_within_days: int
    exceptions_source: ExceptionSource
    cohort_count: int
    excluded_recently_audited: int
    strata_required: tuple[str, ...]
    strata_uncovered: tuple[str, ...]
    children: tuple[SampleChild, ...]
    warnings: tuple[str, ...] = ()

    @property
    def controls_chosen(self) -> int:
        return sum(1 for child in self.children if child.role == CONTROL)


@dataclass(frozen=True)
class ChronologyEvent:
    event_date: date | None  # None: the record carries no date (listed last)
    agency: str
    source_table: str
    event_type: str
    description: str
    record_id: str | None = None


@dataclass(frozen=True)
class ImportSummary:
    sample_id: str
    rows_imported: int
    confirmed: int
    not_a_concern: int
    missed: int  # confirmed by auditors, not raised by the check
    pending: int  # rows with no outcome yet

    def __str__(self) -> str:
        return (
            f"sample {self.sample_id}: {self.rows_imported} outcomes ({self.confirmed} confirmed, "
            f"{self.not_a_concern} not a concern, {self.missed} found by auditors that no check raised); "
            f"{self.pending} rows without an outcome"
        )


def children_text(count: int) -> str:
    """ "1 child", "3 children"."""
    return f"{count} child" if count == 1 else f"{count} children"


def age_band(age_years: int | None) -> str:
    if age_years is None:
        return UNKNOWN_AGE_BAND
    age = max(age_years, 0)  # a date of birth after the as-at date is a data error, not a stratum
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return UNKNOWN_AGE_BAND


def need_label(need_type: str) -> str:
    if need_type in NEED_LABELS:
        return f"{need_type} ({NEED_LABELS[need_type]})"
    return {NO_OPEN_EPISODE: "no open CIN episode", NEED_NOT_RECORDED: "primary need not recorded"}.get(
        need_type, need_type
    )


def check_catalogue() -> dict[str, str]:
    """check_id -> concern, from the registry (an empty map if it cannot be read)."""
    try:
        return {check_id: check.concern for check_id, check in load_registry().items()}
    except Exception:  # the sample is still usable without the catalogue's concern texts
        return {}


def record_sample(con: duckdb.DuckDBPyConnection, result: SampleResult) -> None:
    """Store the sample, its children and their concerns. The sample id is a hash of everything
    that decided the draw, so writing the same sample twice stores it once."""
    ensure_store(con)
    exists = con.execute("SELECT 1 FROM audit_samples WHERE sample_id = $id", {"id": result.sample_id}).fetchone()
    if exists:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            sql_text("audit/insert_sample.sql"),
            {
                "sample_id": result.sample_id,
                "as_at": result.as_at,
                "seed": result.seed,
                "cohort": result.cohort,
                "size": result.size,
                "controls": result.controls,
                "exclude_days": result.exclude_audited_within_days,
                "source": result.exceptions_source.label,
                "source_as_at": result.exceptions_source.as_at,
                "warnings": "\n".join(result.warnings) or None,
            },
        )
        for child in result.children:
            con.execute(
                sql_text("audit/insert_sample_child.sql"),
                {
                    "sample_id": result.sample_id,
                    "person_id": child.person_id,
                    "position": child.position,
                    "role": child.role,
                    "age_band": child.age_band,
                    "need_type": child.need_type,
                    "weight": child.weight,
                    "open": child.open_exception_count,
                    "concerns": child.distinct_concerns,
                    "reasons": "\n".join(child.reasons),
                },
            )
            for concern in child_concerns(child):
                con.execute(
                    sql_text("audit/insert_sample_concern.sql"),
                    {
                        "sample_id": result.sample_id,
                        "person_id": child.person_id,
                        **{k: v for k, v in concern.items() if k != "agencies"},
                    },
                )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def child_concerns(child: SampleChild) -> list[dict]:
    """One row per check raised for the child: highest severity, count, owners and exception ids."""
    by_check: dict[str, list[OpenException]] = {}
    for exception in child.exceptions:
        by_check.setdefault(exception.check_id, []).append(exception)
    concerns = []
    for check_id, rows in sorted(by_check.items()):
        concerns.append(
            {
                "check_id": check_id,
                "concern": rows[0].concern,
                "severity": max((r.severity for r in rows), key=lambda s: SEVERITY_POINTS.get(s, 1)),
                "count": len(rows),
                "ids": ", ".join(sorted(r.exception_id for r in rows)),
                "agencies": ", ".join(sorted({r.agency for r in rows})),
            }
        )
    return concerns


def result_to_json(result: SampleResult) -> str:
    """The whole sample as JSON (the web workspace keeps it so its packs match the CLI's)."""
    return json.dumps(asdict(result), default=lambda value: value.isoformat(), sort_keys=True)


def result_from_json(text: str) -> SampleResult:
    data = json.loads(text)

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    children = tuple(
        SampleChild(
            **{
                **child,
                "reasons": tuple(child["reasons"]),
                "exceptions": tuple(
                    OpenException(**{**x, "first_seen": day(x["first_seen"])}) for x in child["exceptions"]
                ),
            }
        )
        for child in data["children"]
    )
    source = data["exceptions_source"]
    return SampleResult(
        **{
            **data,
            "as_at": day(data["as_at"]),
            "exceptions_source": ExceptionSource(
                label=source["label"], as_at=day(source["as_at"]), count=source["count"]
            ),
            "strata_required": tuple(data["strata_required"]),
            "strata_uncovered": tuple(data["strata_uncovered"]),
            "children": children,
            "warnings": tuple(data["warnings"]),
        }
    )
