"""The configuration a command runs with (`load_config`).

caseflags.config reads `defaults.toml` overlaid by `--config FILE` and checks what it owns
(sections, keys, types, ranges, the schedule, cross-field rules); the packages that own the names
a configuration refers to add their rules here: check ids and thresholds (the catalogue,
caseflags.checking.registry), agency codes (the extract contract, caseflags.contracts.schema) and
sample cohorts (caseflags.audit.model). Every problem is listed at once (`ConfigError`).

This module sits above those packages, so caseflags.config stays a leaf every package may import.
"""

from __future__ import annotations

from pathlib import Path

from caseflags.audit.model import cohort_problems
from caseflags.checking.registry import threshold_problems
from caseflags.config import Config, ConfigError, Rule, read_config
from caseflags.contracts.schema import agency_code_problems

__all__ = ["ConfigError", "RULES", "load_config"]

RULES: tuple[Rule, ...] = (threshold_problems, agency_code_problems, cohort_problems)


def load_config(path: str | Path | None = None) -> Config:
    """The defaults overlaid by `path`, validated as a whole; ConfigError lists every problem."""
    return read_config(path, RULES)
