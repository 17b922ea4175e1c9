"""Shared test set-up.

Puts tests/ on sys.path so check tests can `from check_fixtures import ...` (pytest runs with
--import-mode=importlib, which does not add test folders to sys.path itself).

Tiers (docs/TESTING.md): `make test` runs every test on two pytest-xdist workers; `make check`
leaves out the markers `e2e`, `slow`, `prefect` and `browser`. A test that uses the session's whole-pipeline
run (`sample_run`) is marked `e2e` here, so a new one cannot slip into the fast tier.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

# Under pytest-xdist each worker gets its own Prefect home: two temporary Prefect servers on one
# SQLite database would lock each other out. Set before any test module imports prefect.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _HOME = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    os.environ["PREFECT_HOME"] = str(_HOME / f"pytest-{_WORKER}")
    # Prefect's temporary server cannot create its SQLite database in a folder that is not there.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    # xdist's workers inherit COLUMNS=80 and LINES=24; rich would fix the CLI's console at 80
    # columns when caseflags.cli is imported, and a test's own COLUMNS would no longer count.
    for _variable in ("COLUMNS", "LINES"):
        os.environ.pop(_variable, None)
    # Two workers share 2 cores: a temporary Prefect server may start slower than the nightly's
    # own 120 s allowance while the other worker runs a whole region.
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "600"

# Fixtures that run the whole pipeline: a test using one (directly or through another fixture)
# is end-to-end.
E2E_FIXTURES = {"sample_run"}


SLOW_MARKERS = ("e2e", "slow", "prefect", "browser")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    if _WORKER:
        # xdist hands out whole modules (--dist loadfile) in collection order: modules with slow
        # tests go first, so that no long module starts last while the other worker sits idle.
        slow = {item.path for item in items if any(item.get_closest_marker(m) for m in SLOW_MARKERS)}
        items.sort(key=lambda item: item.path not in slow)  # stable: each module keeps its order


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

    Yields (store path, run folder, run record). Tests open the store read-only; a test that
    writes copies the store file first (web_helpers.copy_store). Under pytest-xdist the first
    worker that needs it runs it and the others wait for it and read the same files (read-only
    opens of one DuckDB file from several processes are allowed).
    """
    if not _WORKER:
        folder = tmp_path_factory.mktemp("sample-run")
        return _run_sample(folder)
    import pickle

    from filelock import FileLock

    folder = tmp_path_factory.getbasetemp().parent / "sample-run"  # this session's, shared by its workers
    done = folder / "record.pickle"
    with FileLock(f"{folder}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            folder.mkdir(mode=0o700)
            result = _run_sample(folder)
            done.write_bytes(pickle.dumps(result))
    return pickle.loads(done.read_bytes())


def _run_sample(folder: Path):
    from datetime import date

    from caseflags.runbook import run_without_prefect
    from caseflags.sample_data import SAMPLE_DELIVERY
    from caseflags.settings import load_config
    from caseflags.store.database import connect

    db = folder / "store.duckdb"
    con = connect(db)
    try:
        record = run_without_prefect(
            con, SAMPLE_DELIVERY, date.fromisoformat(SAMPLE_AS_AT), folder / "reports", load_config(), db_path=db
        )
    finally:
        con.close()
    return db, folder / "reports" / SAMPLE_AS_AT, record
