"""Configuration: `caseflags/config/defaults.toml` (the one home of every default) overlaid by the user's `--config FILE`.

The whole configuration is validated at start, and every problem is reported at once, one line
each (`ConfigError.problems`), so a typo or a value out of range never silently falls back to a
default or surfaces late. This package is a leaf (it imports no other caseflags package): the
rules about names other packages own (check ids and thresholds, agency codes, sample cohorts)
are theirs, passed in as `rules` by caseflags.settings.load_config, which every command uses.
Here:

- every key is known in advance (unknown sections, keys, checks and thresholds are refused);
- every value has its type and every number its range (`RANGES`, read from `ranges.toml` beside
  the defaults; check thresholds by their unit, `THRESHOLD_RANGES`);
- the schedule's cron expression and timezone are parsed;
- cross-field rules: linkage review_threshold <= match_threshold; sample controls <= size;
- each rule passed in (`Rule`): the merged sections and the source in, problems out;
- retention has a floor: at least one day, and the current run plus the last
  `retention.keep_last_runs` runs are never pruned whatever the ages (caseflags.runbook).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from caseflags.resources import DEFAULT_CONFIG

# A rule of the package that owns a name the configuration refers to: (the merged sections,
# the configuration's source) -> one line per problem, each starting with the source.
Rule = Callable[[Mapping[str, Any], str], list[str]]


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
    limits: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # local involvement role code -> caseflags role
    priority: dict[str, Any] = field(default_factory=dict)

    def thresholds_for(self, check_id: str) -> dict[str, Any]:
        return dict(self.checks.get(check_id, {}))


_SECTIONS = (
    "ingest",
    "contracts",
    "linkage",
    "agencies",
    "checks",
    "outputs",
    "sample",
    "schedule",
    "retention",
    "web",
    "limits",
    "roles",
    "priority",
)
RANGES_FILE = DEFAULT_CONFIG.parent / "ranges.toml"


def _read_ranges() -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    with RANGES_FILE.open("rb") as handle:
        raw = tomllib.load(handle)
    thresholds = {unit: (low, high) for unit, (low, high) in raw.pop("thresholds").items()}
    ranges = {f"{section}.{key}": (low, high) for section, keys in raw.items() for key, (low, high) in keys.items()}
    return ranges, thresholds


# (lowest, highest) allowed for every number of defaults.toml, and for check thresholds by unit.
RANGES, THRESHOLD_RANGES = _read_ranges()


def default_limits() -> dict[str, int]:
    """The [limits] of defaults.toml (free-text length, workbook size and cells), for callers
    given no configuration (e.g. a test, or an import run without --config)."""
    with DEFAULT_CONFIG.open("rb") as handle:
        return dict(tomllib.load(handle)["limits"])


# The one cap on free text a person types (web notes, review import, audit outcome import, link
# decision notes): limits.max_text_length of the defaults. The imports take a configured override.
MAX_TEXT_LENGTH: int = default_limits()["max_text_length"]
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


def read_config(path: str | Path | None, rules: Sequence[Rule]) -> Config:
    """The defaults overlaid by `path`, validated as a whole by this package's checks and
    `rules`; ConfigError lists every problem. Commands call caseflags.settings.load_config."""
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
    for rule in rules:
        problems += rule(merged, source)
    problems += [
        f"{source}: roles.{local} maps to {code!r}: a role code is letters, digits and _ (e.g. CW)"
        for local, code in merged["roles"].items()
        if not re.fullmatch(r"[A-Z0-9_]{1,20}", code)
    ]
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
        if section in ("agencies", "roles"):
            merged[section].update({str(k): str(v) for k, v in values.items()})
            continue
        if section == "checks":  # check ids and thresholds: the catalogue's rule (checking.registry)
            merged["checks"] = _check_tables(values, source, problems)
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
        if not low <= value <= high:
            problems.append(f"{source}: {name} must be between {low} and {high}, got {value}")
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
        problems.append(
            f"{source}: sample.controls ({sample['controls']}) must not be above sample.size ({sample['size']})"
        )
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
        problems.append(
            f"{source}: schedule.timezone {schedule['timezone']!r} is not a known timezone (e.g. Europe/London)"
        )
    return problems


def _check_tables(values: dict[str, Any], source: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    """[checks.<CHECK_ID>] tables as given (their ids, names and values are the catalogue's rule)."""
    tables: dict[str, dict[str, Any]] = {}
    for check_id, thresholds in values.items():
        if not isinstance(thresholds, dict):
            problems.append(f"{source}: [checks.{check_id}] must be a table of thresholds")
            continue
        tables[check_id] = dict(thresholds)
    return tables
