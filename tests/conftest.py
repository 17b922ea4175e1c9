"""Shared test set-up.

Puts tests/ on sys.path so check tests can `from check_fixtures import ...` (pytest runs with
--import-mode=importlib, which does not add test folders to sys.path itself).
"""

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture
def store():
    """An empty in-memory store with every contract and internal table."""
    from check_fixtures import new_store

    con = new_store()
    yield con
    con.close()


SAMPLE_AS_AT = "2026-11-24"


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The whole pipeline (without Prefect) on the bundled sample, once per session.

    Yields (store path, run folder, run record). Tests open the store read-only.
    """
    from datetime import date

    from caseflags.sample_data import SAMPLE_DELIVERY
    from caseflags.settings import load_config
    from caseflags.runbook import run_without_prefect
    from caseflags.store.database import connect

    folder = tmp_path_factory.mktemp("sample-run")
    db = folder / "store.duckdb"
    con = connect(db)
    try:
        record = run_without_prefect(
            con, SAMPLE_DELIVERY, date.fromisoformat(SAMPLE_AS_AT), folder / "reports", load_config(), db_path=db
        )
    finally:
        con.close()
    return db, folder / "reports" / SAMPLE_AS_AT, record
