"""Configuration: `caseflags/config/defaults.toml` (the one home of every default) overlaid by the user's `--config FILE`.

The whole configuration is validated at start, and every problem is reported at once, one line
each (`ConfigError.problems`), so a typo or a value out of range never silently falls back to a
default or surfaces late:

- every key is known in advance (unknown sections, keys, checks and thresholds are refused);
- every value has its type and every number its range (`RANGES`);
- the schedule's cron expression and timezone are parsed;
- cross-field rules: linkage review_threshold <= match_threshold; sample controls <= size;
- retention has a floor: at least one day, and the current run plus the last
  `retention.keep_last_runs` runs are never pruned whatever the ages (caseflags.runbook).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from caseflags.audit.model import COHORTS
from caseflags.checking.registry import load_registry
from caseflags.contracts.schema import load_contract
from caseflags.resources import DEFAULT_CONFIG


class ConfigError(Exception):
    """A configuration that cannot be used. `problems` holds one line per problem, each naming
    the file and key; the message is all of them, one per line."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Config:
    source: str
    ingest: dict[str, Any]
    contracts: dict[str, Any]
    linkage: dict[str, Any]
    agencies: dict[str, str]
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    sample: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)
    web: dict[str, Any] = field(default_factory=dict)

    def thresholds_for(self, check_id: str) -> dict[str, Any]:
        return dict(self.checks.get(check_id, {}))


_SECTIONS = ("ingest", "contracts", "linkage", "agencies", "checks", "outputs", "sample", "schedule", "retention", "web")

# (lowest, highest) allowed for every number; None: unbounded on that side.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "ingest.max_field_size": (1, None),
    "ingest.max_record_size": (1, None),
    "ingest.raw_line_prefix": (1, None),
    "contracts.min_row_fraction": (0.0, 1.0),
    "contracts.max_days_after_as_at": (0, 36500),
    "linkage.match_threshold": (0.5, 1.0),
    "linkage.review_threshold": (0.0, 1.0),
    "linkage.confirm_note_below": (0.0, 1.0),
    "outputs.annotation_expiry_days": (1, 3650),
    "sample.size": (1, 1000),
    "sample.controls": (0, 1000),
    "sample.exclude_audited_within_days": (0, 36500),
    "retention.keep_runs_days": (1, None),
    "retention.keep_last_runs": (1, None),
    "retention.keep_deliveries_days": (1, None),
}
EARLIEST_DATE_FLOOR = date(1800, 1, 1)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a configuration file") from None
    except PermissionError:
        raise ConfigError(f"{path}: configuration file cannot be read (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_config(path: str | Path | None = None) -> Config:
    """The defaults overlaid by `path`, validated as a whole; ConfigError lists every problem."""
    defaults = _read(DEFAULT_CONFIG)
    merged = {section: dict(defaults.get(section, {})) for section in _SECTIONS}
    merged["checks"] = {}
    source = str(DEFAULT_CONFIG)
    problems: list[str] = []
    if path is not None:
        user_path = Path(path)
        user = _read(user_path)
        source = str(user_path)
        _overlay(merged, user, source, problems)
    problems += _validate_values(merged, source)
    problems += _validate_agencies(merged["agencies"], source)
    if problems:
        raise ConfigError(problems)
    return Config(source=source, **merged)


def _overlay(merged: dict, user: dict, source: str, problems: list[str]) -> None:
    for section, values in user.items():
        if section not in _SECTIONS:
            problems.append(f"{source}: unknown section [{section}]")
            continue
        if not isinstance(values, dict):
            problems.append(f"{source}: [{section}] must be a table")
            continue
        if section == "agencies":
            merged["agencies"].update({str(k): str(v) for k, v in values.items()})
            continue
        if section == "checks":
            merged["checks"] = _validate_check_thresholds(values, source, problems)
            continue
        for key, value in values.items():
            if key not in merged[section]:
                problems.append(f"{source}: unknown key {section}.{key}")
                continue
            expected = type(merged[section][key])
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or isinstance(value, bool) != isinstance(merged[section][key], bool):
                problems.append(f"{source}: {section}.{key} must be {expected.__name__}, got {type(value).__name__}")
                continue
            merged[section][key] = value


def _validate_values(merged: dict, source: str) -> list[str]:
    problems = []
    for name, (low, high) in RANGES.items():
        section, key = name.split(".")
        value = merged[section].get(key)
        if value is None or isinstance(value, bool):
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            problems.append(f"{source}: {name} must be {bounds}, got {value}")
    ingest = merged["ingest"]
    if ingest["max_field_size"] > ingest["max_record_size"]:
        problems.append(
            f"{source}: ingest.max_field_size ({ingest['max_field_size']}) must not exceed "
            f"ingest.max_record_size ({ingest['max_record_size']})"
        )
    linkage = merged["linkage"]
    if linkage["review_threshold"] > linkage["match_threshold"]:
        problems.append(
            f"{source}: linkage.review_threshold ({linkage['review_threshold']}) must not be above "
            f"linkage.match_threshold ({linkage['match_threshold']})"
        )
    sample = merged["sample"]
    if sample["controls"] > sample["size"]:
        problems.append(f"{source}: sample.controls ({sample['controls']}) must not be above sample.size ({sample['size']})")
    if sample["cohort"] not in COHORTS:
        problems.append(f"{source}: sample.cohort must be one of {', '.join(COHORTS)}, got {sample['cohort']!r}")
    try:
        earliest = date.fromisoformat(merged["contracts"]["earliest_plausible_date"])
        if earliest < EARLIEST_DATE_FLOOR:
            problems.append(f"{source}: contracts.earliest_plausible_date must be on or after {EARLIEST_DATE_FLOOR}")
    except ValueError:
        problems.append(
            f"{source}: contracts.earliest_plausible_date must be a date YYYY-MM-DD, "
            f"got {merged['contracts']['earliest_plausible_date']!r}"
        )
    problems += _validate_schedule(merged["schedule"], source)
    return problems


def _validate_schedule(schedule: dict, source: str) -> list[str]:
    problems = []
    try:
        CronSim(schedule["cron"], datetime(2026, 1, 1))
    except (CronSimError, ValueError) as exc:
        problems.append(f"{source}: schedule.cron {schedule['cron']!r} is not a cron expression ({exc})")
    try:
        ZoneInfo(schedule["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{source}: schedule.timezone {schedule['timezone']!r} is not a known timezone (e.g. Europe/London)")
    return problems


def _validate_agencies(agencies: dict[str, str], source: str) -> list[str]:
    codes = set(load_contract()["agency_records"].column("agency").codes)
    return [
        f"{source}: agencies.{local_name} maps to unknown agency code {code!r}"
        for local_name, code in agencies.items()
        if code not in codes
    ]


def _validate_check_thresholds(values: dict[str, Any], source: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    registry = load_registry()
    checked: dict[str, dict[str, Any]] = {}
    for check_id, thresholds in values.items():
        if check_id not in registry:
            problems.append(f"{source}: unknown check [checks.{check_id}]")
            continue
        if not isinstance(thresholds, dict):
            problems.append(f"{source}: [checks.{check_id}] must be a table of thresholds")
            continue
        known = registry[check_id].thresholds
        for name, value in thresholds.items():
            if name not in known:
                problems.append(f"{source}: unknown threshold checks.{check_id}.{name}")
                continue
            default = known[name].default
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(default, int) and not isinstance(default, bool) and not isinstance(value, int)
            ):
                problems.append(f"{source}: checks.{check_id}.{name} must be a number like {default!r}")
            elif value < 0:
                problems.append(f"{source}: checks.{check_id}.{name} must not be negative")
        checked[check_id] = dict(thresholds)
    return checked
