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
