"""Configuration: `caseflags/config/defaults.toml` (the one home of every default) overlaid by the user's `--config FILE`.

Every key is known in advance: an unknown key, a wrong type or an unknown check threshold is an
error at start naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caseflags.checking.registry import load_registry
from caseflags.contracts.schema import load_contract
from caseflags.resources import DEFAULT_CONFIG




class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and key."""


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

    def thresholds_for(self, check_id: str) -> dict[str, Any]:
        return dict(self.checks.get(check_id, {}))


_SECTIONS = ("ingest", "contracts", "linkage", "agencies", "checks", "outputs", "sample", "schedule", "retention")


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_config(path: str | Path | None = None) -> Config:
    defaults = _read(DEFAULT_CONFIG)
    merged = {section: dict(defaults.get(section, {})) for section in _SECTIONS}
    merged["checks"] = {}
    source = str(DEFAULT_CONFIG)
    if path is not None:
        user_path = Path(path)
        user = _read(user_path)
        source = str(user_path)
        for section, values in user.items():
            if section not in _SECTIONS:
                raise ConfigError(f"{user_path}: unknown section [{section}]")
            if not isinstance(values, dict):
                raise ConfigError(f"{user_path}: [{section}] must be a table")
            if section == "agencies":
                merged["agencies"].update({str(k): str(v) for k, v in values.items()})
                continue
            if section == "checks":
                merged["checks"] = _validate_check_thresholds(values, user_path)
                continue
            for key, value in values.items():
                if key not in merged[section]:
                    raise ConfigError(f"{user_path}: unknown key {section}.{key}")
                expected = type(merged[section][key])
                if expected is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if not isinstance(value, expected) or isinstance(value, bool) != isinstance(merged[section][key], bool):
                    raise ConfigError(
                        f"{user_path}: {section}.{key} must be {expected.__name__}, got {type(value).__name__}"
                    )
                merged[section][key] = value
    _validate_agencies(merged["agencies"], source)
    return Config(source=source, **merged)


def _validate_agencies(agencies: dict[str, str], source: str) -> None:
    codes = set(load_contract()["agency_records"].column("agency").codes)
    for local_name, code in agencies.items():
        if code not in codes:
            raise ConfigError(f"{source}: agencies.{local_name} maps to unknown agency code {code!r}")


def _validate_check_thresholds(values: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    registry = load_registry()
    checked: dict[str, dict[str, Any]] = {}
    for check_id, thresholds in values.items():
        if check_id not in registry:
            raise ConfigError(f"{path}: unknown check [checks.{check_id}]")
        if not isinstance(thresholds, dict):
            raise ConfigError(f"{path}: [checks.{check_id}] must be a table of thresholds")
        known = registry[check_id].thresholds
        for name, value in thresholds.items():
            if name not in known:
                raise ConfigError(f"{path}: unknown threshold checks.{check_id}.{name}")
            default = known[name].default
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(default, int) and not isinstance(default, bool) and not isinstance(value, int)
            ):
                raise ConfigError(f"{path}: checks.{check_id}.{name} must be a number like {default!r}")
            if value < 0:
                raise ConfigError(f"{path}: checks.{check_id}.{name} must not be negative")
        checked[check_id] = dict(thresholds)
    return checked
