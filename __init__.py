"""caseflags: nightly multi-agency checks for children who are Child in Need with an EHCP."""

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
SQL_DIR = PACKAGE_ROOT / "sql"
SAMPLE_DELIVERY = PACKAGE_ROOT / "sample_data" / "small"

__version__ = "0.1.0"
