"""The check registry: `checks/<CHECK_ID>.toml` beside `checks/<CHECK_ID>.sql`,
one file pair per check.

An entry declares what the check mirrors (concern), who acts (owner), how severe, which store
tables it reads (inputs, for "not evaluated") and its thresholds with their sources. The SQL
may use only `$as_at` and the thresholds declared here as parameters.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caseflags.config import THRESHOLD_RANGES
from caseflags.resources import CATALOGUE_DIR

CHECKS_SQL_DIR = CATALOGUE_DIR  # each check's SQL sits beside its TOML

SEVERITIES = ("HIGH", "MEDIUM", "LOW")
REQUIRED_KEYS = ("id", "concern", "owner", "owner_rule", "entity_type", "severity", "severity_rule", "inputs", "rule")
# short_name: the check's plain title (workbook sheet, <= 31 characters, unique); action and
# action_by: what must be done and who does it, appended to every row's detail by the runner.
# For the documentation only (docs/CHECKS.md and ARCHITECTURE.md's exception keys are generated
# from them, `python -m caseflags.checking.docs`): the contract's rule and "one row per / owner" in
# its words, and how the exception's key is made (entity_type when more than the plain value,
# entity_id, person_id when not the LA child, agency).
DOC_KEYS = ("contract_rule", "contract_row", "key_entity_type", "key_entity_id", "key_person_id", "key_agency")
OPTIONAL_KEYS = ("thresholds", "scope", "short_name", "action", "action_by", *DOC_KEYS)
SHORT_NAME_LIMIT = 31  # Excel's limit on a worksheet name
# Where a check runs: each authority's store (the default), or the regional store of a
# `caseflags region run` (docs/SCALE.md), over what the authorities share.
SCOPES = ("authority", "region")
THRESHOLD_KEYS = ("default", "unit", "description", "source")
CHECK_ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
PARAMETER_PATTERN = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
RUN_PARAMETERS = ("as_at",)
# Columns every check SQL returns, in this order (docs/ARCHITECTURE.md, "Checks").
OUTPUT_COLUMNS = ("person_id", "agency", "entity_type", "entity_id", "severity", "detail", "locator")
# Optional columns a check SQL may also return, all three together: how far past its threshold the
# row is, on one scale where larger is worse (`magnitude` against `threshold`, in `magnitude_unit`,
# e.g. 39 against 10 "working days"); the priority score reads them (docs/ARCHITECTURE.md).
MAGNITUDE_COLUMNS = ("magnitude", "threshold", "magnitude_unit")


class RegistryError(ValueError):
    """A catalogue entry or its SQL file is not valid; the message names the file."""


@dataclass(frozen=True)
class Threshold:
    default: int | float | str
    unit: str
    description: str
    source: str


@dataclass(frozen=True)
class Check:
    id: str
    concern: str
    owner: str
    owner_rule: str
    entity_type: str
    severity: str
    severity_rule: str
    inputs: tuple[str, ...]
    rule: str
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    sql_path: Path = Path()
    scope: str = "authority"
    short_name: str = ""
    action: str = ""
    action_by: str = ""
    doc: dict[str, str] = field(default_factory=dict)  # the DOC_KEYS given, for the generated docs

    @property
    def title(self) -> str:
        """The plain title people read (the short name, else the id)."""
        return self.short_name or self.id

    def action_text(self) -> str:
        """The sentence the runner appends to every detail: the action and who does it."""
        if not (self.action and self.action_by):
            return ""
        return f" Action for {self.action_by}: {self.action}."

    @property
    def input_alternatives(self) -> list[tuple[str, ...]]:
        """Each input as the tables any one of which suffices ("a|b" -> ("a", "b"))."""
        return [tuple(part.strip() for part in spec.split("|")) for spec in self.inputs]

    @property
    def input_tables(self) -> list[str]:
        """Every table named in the inputs, alternatives included."""
        return [table for group in self.input_alternatives for table in group]

    def sql(self) -> str:
        return self.sql_path.read_text()

    def parameters(self) -> set[str]:
        """Named parameters the SQL uses."""
        return set(PARAMETER_PATTERN.findall(_without_comments(self.sql())))

    def threshold_values(self, overrides: dict | None = None) -> dict[str, int | float | str]:
        """Threshold defaults with overrides applied; an unknown threshold name is an error."""
        values = {name: threshold.default for name, threshold in self.thresholds.items()}
        for name, value in (overrides or {}).items():
            if name not in values:
                raise RegistryError(f"{self.id}: unknown threshold {name!r} (known: {', '.join(values) or 'none'})")
            values[name] = value
        return values


def _without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def load_check(path: Path, sql_dir: Path = CHECKS_SQL_DIR) -> Check:
    """Read and validate one catalogue entry."""
    where = f"{path.name}"
    try:
        entry = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{where}: not valid TOML: {exc}") from exc

    unknown = sorted(set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise RegistryError(f"{where}: unknown keys {', '.join(unknown)}")
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        raise RegistryError(f"{where}: missing keys {', '.join(missing)}")
    for key in REQUIRED_KEYS:
        if key == "inputs":
            continue
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise RegistryError(f"{where}: {key} must be a non-empty string")

    check_id = entry["id"]
    if not CHECK_ID_PATTERN.match(check_id):
        raise RegistryError(f"{where}: id {check_id!r} is not an upper-case check id")
    if path.stem != check_id:
        raise RegistryError(f"{where}: file name does not match id {check_id!r}")
    if entry["severity"] not in SEVERITIES:
        raise RegistryError(f"{where}: severity {entry['severity']!r} is not one of {', '.join(SEVERITIES)}")
    scope = entry.get("scope", "authority")
    if scope not in SCOPES:
        raise RegistryError(f"{where}: scope {scope!r} is not one of {', '.join(SCOPES)}")
    for key in ("short_name", "action", "action_by", *DOC_KEYS):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise RegistryError(f"{where}: {key} must be a non-empty string")
    if len(entry.get("short_name", "")) > SHORT_NAME_LIMIT:
        raise RegistryError(f"{where}: short_name must be at most {SHORT_NAME_LIMIT} characters")
    if any(ch in entry.get("short_name", "") for ch in "[]:*?/\\'"):
        raise RegistryError(f"{where}: short_name must not contain any of [ ] : * ? / \\ '")
    inputs = entry["inputs"]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i.strip() for i in inputs):
        raise RegistryError(f"{where}: inputs must be a non-empty list of table names")

    thresholds: dict[str, Threshold] = {}
    raw_thresholds = entry.get("thresholds", {})
    if not isinstance(raw_thresholds, dict):
        raise RegistryError(f"{where}: thresholds must be a table of [thresholds.<name>] entries")
    for name, spec in raw_thresholds.items():
        if not isinstance(spec, dict):
            raise RegistryError(f"{where}: threshold {name} must be a table")
        if name in RUN_PARAMETERS:
            raise RegistryError(f"{where}: threshold name {name!r} is reserved")
        unknown_t = sorted(set(spec) - set(THRESHOLD_KEYS))
        if unknown_t:
            raise RegistryError(f"{where}: threshold {name} has unknown keys {', '.join(unknown_t)}")
        missing_t = [key for key in THRESHOLD_KEYS if key not in spec]
        if missing_t:
            raise RegistryError(f"{where}: threshold {name} is missing {', '.join(missing_t)}")
        if isinstance(spec["default"], bool) or not isinstance(spec["default"], (int, float, str)):
            raise RegistryError(f"{where}: threshold {name} default must be a number or string")
        thresholds[name] = Threshold(spec["default"], spec["unit"], spec["description"], spec["source"])

    sql_path = sql_dir / f"{check_id}.sql"
    if not sql_path.is_file():
        raise RegistryError(f"{where}: no SQL file {sql_path.name} in {sql_dir}")

    check = Check(
        id=check_id,
        concern=entry["concern"],
        owner=entry["owner"],
        owner_rule=entry["owner_rule"],
        entity_type=entry["entity_type"],
        severity=entry["severity"],
        severity_rule=entry["severity_rule"],
        inputs=tuple(i.strip() for i in inputs),
        rule=entry["rule"],
        thresholds=thresholds,
        sql_path=sql_path,
        scope=scope,
        short_name=entry.get("short_name", "").strip(),
        action=entry.get("action", "").strip().rstrip("."),
        action_by=entry.get("action_by", "").strip(),
        doc={key: entry[key].strip() for key in DOC_KEYS if key in entry},
    )
    undeclared = sorted(check.parameters() - set(thresholds) - set(RUN_PARAMETERS))
    if undeclared:
        raise RegistryError(
            f"{where}: {sql_path.name} uses parameters not declared as thresholds: {', '.join(undeclared)}"
        )
    return check


def load_registry(catalogue_dir: Path = CATALOGUE_DIR, sql_dir: Path = CHECKS_SQL_DIR) -> dict[str, Check]:
    """Every catalogue entry, validated, ordered by check id.

    Each file must be named after its id, so two entries can never share an id: a copied entry
    whose id was not changed fails as "file name does not match id".
    """
    paths = sorted(Path(catalogue_dir).glob("*.toml"))
    signature = (str(catalogue_dir), str(sql_dir), *_file_stamps(paths), *_file_stamps(Path(sql_dir).glob("*.sql")))
    cached = _REGISTRY_CACHE.get((str(catalogue_dir), str(sql_dir)))
    if cached is not None and cached[0] == signature:
        return dict(cached[1])
    registry = _read_registry(paths, Path(sql_dir))
    _REGISTRY_CACHE[(str(catalogue_dir), str(sql_dir))] = (signature, registry)
    return dict(registry)


# The catalogue read once per process while its files are unchanged: a night asks for it a few
# hundred times (every workbook sheet's name), and parsing 25 TOML files each time cost seconds.
_REGISTRY_CACHE: dict[tuple[str, str], tuple[tuple, dict[str, Check]]] = {}


def _file_stamps(paths) -> list[tuple[str, str]]:
    """Each file's name and content digest (not its mtime: a file rewritten within one clock tick
    keeps it)."""
    return sorted((path.name, hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()) for path in paths)


def _read_registry(paths: list[Path], sql_dir: Path) -> dict[str, Check]:
    checks = [load_check(path, sql_dir) for path in paths]
    seen: dict[str, str] = {}
    for check in checks:
        if check.short_name:
            other = seen.setdefault(check.short_name.casefold(), check.id)
            if other != check.id:
                raise RegistryError(f"{check.id}.toml: short_name {check.short_name!r} is also {other}'s")
    return {check.id: check for check in sorted(checks, key=lambda check: check.id)}


def threshold_problems(sections: Mapping[str, Any], source: str) -> list[str]:
    """The configuration's [checks.<CHECK_ID>] tables against the catalogue: known checks and
    thresholds, numbers like their defaults, within their unit's range (config ranges.toml)."""
    registry = load_registry()
    problems = []
    for check_id, thresholds in sections["checks"].items():
        if check_id not in registry:
            problems.append(f"{source}: unknown check [checks.{check_id}]")
            continue
        known = registry[check_id].thresholds
        for name, value in thresholds.items():
            if name not in known:
                problems.append(f"{source}: unknown threshold checks.{check_id}.{name}")
                continue
            default = known[name].default
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(default, int) and not isinstance(default, bool) and not isinstance(value, int))
            ):
                problems.append(f"{source}: checks.{check_id}.{name} must be a number like {default!r}")
            else:
                low, high = THRESHOLD_RANGES[known[name].unit]
                if not low <= value <= high:
                    problems.append(
                        f"{source}: checks.{check_id}.{name} must be between {low} and {high} "
                        f"({known[name].unit}), got {value}"
                    )
    return problems
