"""The package as a user installs it: a real (non-editable) build, run from outside the repository.

Everything a run reads (SQL, TOML) must come from the installed package, nothing may be written
inside it, and the repository's tests, docs and sample are not part of it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e  # a real package build, then a run of it


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install --no-deps --target T .`: the built wheel's contents, unpacked into T."""
    target = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return target


def _caseflags(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed), "PREFECT_HOME": str(cwd / ".prefect")}
    return subprocess.run(
        [sys.executable, "-m", "caseflags", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_installed_package_holds_its_sql_and_catalogue_but_no_tests_docs_or_sample(installed):
    package = installed / "caseflags"
    files = _files(package)
    assert "sql/schema.sql" in files and "sql/macros.sql" in files
    assert "catalogue/GP_NOT_INVITED.toml" in files and "catalogue/GP_NOT_INVITED.sql" in files
    assert "config/defaults.toml" in files and "flows/nightly.py" in files
    assert "sample_data/generator.py" in files
    assert {"sql/web/scoped_exceptions.sql", "web/templates/base.html", "web/static/style.css"} <= files
    assert not any(f.startswith(("tests", "docs", "bench", "sample_data/small")) for f in files)
    probe = subprocess.run(
        [sys.executable, "-c", "import caseflags, caseflags.tests"],
        cwd=installed.parent,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "caseflags.tests" in probe.stderr


@pytest.mark.prefect
def test_generate_then_run_from_outside_the_repository(installed, tmp_path):
    before = _files(installed / "caseflags")
    which = subprocess.run(
        [sys.executable, "-c", "import caseflags.resources as r; print(r.SQL_DIR)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
    )
    assert Path(which.stdout.strip()).is_relative_to(installed), which.stdout + which.stderr

    generated = _caseflags(installed, tmp_path, "generate", "--profile", "small", "--out", "delivery")
    assert generated.returncode == 0, generated.stderr[-3000:]
    ran = _caseflags(
        installed,
        tmp_path,
        "run",
        "--extracts",
        "delivery",
        "--as-at",
        "2026-11-24",
        "--db",
        "store.duckdb",
        "--out",
        "reports",
        "--new-store",
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
    assert (tmp_path / "reports" / "2026-11-24" / "run.json").is_file()
    assert _files(installed / "caseflags") == before  # no run artefact inside the package
