"""Where the package's own files are: the store's SQL, the check catalogue, the default config.

They are package data (see pyproject.toml), so an installed caseflags reads them from its own
installation, never from the working directory.
"""

import tomllib
from functools import cache
from importlib.resources import files
from pathlib import Path

SQL_DIR = Path(str(files("caseflags.sql")))
CATALOGUE_DIR = Path(str(files("caseflags.catalogue")))
DEFAULT_CONFIG = Path(__file__).resolve().parent / "config" / "defaults.toml"


@cache
def sql_text(relative_path: str) -> str:
    """The text of one SQL file under `sql/` (e.g. "outputs/views.sql"), read once."""
    return (SQL_DIR / relative_path).read_text(encoding="utf-8")


@cache
def _defaults() -> dict:
    with DEFAULT_CONFIG.open("rb") as handle:
        return tomllib.load(handle)


def config_default(section: str, key: str):
    """A default from `caseflags/config/defaults.toml`, the one home of every default, for code
    that takes a value without a whole configuration (library calls, tests)."""
    return _defaults()[section][key]
