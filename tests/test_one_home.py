"""One home per constant (issue 29): defaults live in defaults.toml, the severities' order and the
attendance code classes in one macro each, the store's DDL in .sql files."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from caseflags.checking.registry import SEVERITIES
from caseflags.resources import DEFAULT_CONFIG, SQL_DIR
from caseflags.store.database import connect, ensure_store

PACKAGE = Path(__file__).resolve().parents[1] / "caseflags"
CHECKS = Path(__file__).resolve().parents[1] / "checks"

# Literal defaults that equal a number of defaults.toml by coincidence, not by copy:
# (module path under caseflags/, function or class, parameter) -> why it is not that setting.
NOT_A_COPY = {
    ("failures.py", "fail", "code"): "exit status 2 of a foreseen failure",
    ("failures.py", "fail_each", "code"): "exit status 2 of a foreseen failure",
    ("outputs/review_import.py", "_read_only_edits", "first_data_row"): "a workbook's first data row",
    ("web/audit.py", "samples_view", "limit"): "samples shown on the audit page",
    ("web/queries.py", "today", "limit"): "rows shown on Today",
    ("web/queries.py", "today", "children"): "children shown on Today",
    ("web/queries.py", "today", "rest_limit"): "rows shown under 'the rest' on Today",
    ("checking/good_practice.py", "good_practice", "window_days"): "the good-practice window (CHECKS.md)",
}


def _configured_values() -> dict:
    values: dict = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, (int, float, str)) and not isinstance(node, bool) and node not in (0, 1, ""):
            values.setdefault(node, []).append(".".join(path))

    with DEFAULT_CONFIG.open("rb") as handle:
        walk(tomllib.load(handle), ())
    return values


def _literal_defaults(package: Path = PACKAGE):
    """(module, owner, parameter, value, line) of every literal default of a function parameter or
    a dataclass-style class field in the package."""
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pairs = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                positional = [*node.args.posonlyargs, *node.args.args]
                pairs += zip(positional[len(positional) - len(node.args.defaults) :], node.args.defaults)
                pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
                pairs = [(a.arg, d) for a, d in pairs]
            elif isinstance(node, ast.ClassDef):
                pairs = [
                    (s.target.id, s.value)
                    for s in node.body
                    if isinstance(s, ast.AnnAssign) and s.value is not None and isinstance(s.target, ast.Name)
                ]
            elif isinstance(node, ast.Module):  # module constants named as defaults
                pairs = [
                    (s.targets[0].id, s.value)
                    for s in node.body
                    if isinstance(s, ast.Assign)
                    and isinstance(s.targets[0], ast.Name)
                    and s.targets[0].id.startswith("DEFAULT_")
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and len(node.args) == 2
                and isinstance(node.args[0], ast.Constant)
            ):
                pairs = [(node.args[0].value, node.args[1])]  # a fallback for a configured key: config["key"]
            for name, default in pairs:
                if isinstance(default, ast.Constant) and not isinstance(default.value, bool):
                    owner = getattr(node, "name", "<module>" if isinstance(node, ast.Module) else "<get>")
                    yield module, owner, name, default.value, default.lineno


def test_no_literal_default_copies_a_value_of_defaults_toml():
    configured = _configured_values()
    copies = [
        f"caseflags/{module}:{line} {owner}({name}={value!r}) copies {', '.join(configured[value])}"
        for module, owner, name, value, line in _literal_defaults()
        if value in configured
        and (module, owner, name) not in NOT_A_COPY
        # a .get fallback counts when its key is the configured one
        and (owner != "<get>" or any(key.endswith("." + name) for key in configured[value]))
    ]
    assert not copies, "read these from defaults.toml (config_default) or require them:\n" + "\n".join(copies)


def test_the_scan_sees_a_copied_default(tmp_path):
    # The scan itself: a function defaulting to the configured page size is found.
    fake = tmp_path / "caseflags"
    fake.mkdir()
    (fake / "copy.py").write_text("def page(size: int = 50):\n    return size\n")
    assert [(m, o, n, v) for m, o, n, v, _ in _literal_defaults(fake)] == [("copy.py", "page", "size", 50)]
    assert 50 in _configured_values()


def test_severity_rank_is_the_registry_order():
    con = connect()
    ensure_store(con)
    ranks = con.execute("SELECT s, severity_rank(s) FROM unnest($s) AS t(s)", {"s": [*SEVERITIES, "OTHER"]}).fetchall()
    assert ranks == [*((s, i + 1) for i, s in enumerate(SEVERITIES)), ("OTHER", len(SEVERITIES) + 1)]


def _sql_and_python_files():
    yield from SQL_DIR.rglob("*.sql")
    yield from CHECKS.glob("*.sql")
    yield from PACKAGE.rglob("*.py")


def test_the_severity_order_is_written_once():
    ranking = re.compile(r"WHEN\s+'HIGH'\s+THEN\s+\d", re.IGNORECASE)
    found = [p.name for p in _sql_and_python_files() if ranking.search(p.read_text(encoding="utf-8"))]
    assert found == ["macros.sql"]


def test_attendance_code_lists_are_written_once():
    # The unauthorised codes as a list: only the contract's ENUM and the attendance_class macro.
    code_list = re.compile(r"'G',\s*'N',\s*'O',\s*'U'")
    found = sorted(
        p.relative_to(p.parents[1]).as_posix()
        for p in _sql_and_python_files()
        if code_list.search(p.read_text(encoding="utf-8"))
    )
    assert found == ["sql/macros.sql", "sql/schema.sql"]


@pytest.mark.parametrize(
    "statement",
    ["CREATE TABLE", "CREATE OR REPLACE TABLE", "CREATE VIEW", "CREATE MACRO", "CREATE OR REPLACE MACRO", "ADD COLUMN"],
)
def test_no_store_ddl_in_python(statement):
    # TEMP working tables of one connection are not the store's. Not the store: the officers'
    # workspace is SQLite (workspace/database.py adds the columns a newer version declares).
    pattern = re.compile(re.escape(statement) + r"\s+(?!TEMP|IF NOT EXISTS exception_agency_rows)", re.IGNORECASE)
    found = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).as_posix() != "workspace/database.py"
        and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert found == ["store/database.py"] if statement in ("CREATE TABLE", "CREATE OR REPLACE TABLE") else not found


@pytest.mark.prefect  # imports Prefect in a fresh process: the full suite, not the fast tier
@pytest.mark.parametrize("flow_module", ["caseflags.flows.nightly", "caseflags.flows.region"])
def test_each_flow_sets_the_one_quiet_environment_before_prefect(flow_module):
    # Imported without the CLI (a Prefect deployment, a Dask worker): the flow module itself applies
    # caseflags.environment.QUIET_ENVIRONMENT, the one list of those settings.
    import json
    import os
    import subprocess
    import sys

    from caseflags.environment import QUIET_ENVIRONMENT

    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}
    probe = (
        f"import json, os, sys; import {flow_module}; "
        f"print(json.dumps({{k: os.environ.get(k) for k in {sorted(QUIET_ENVIRONMENT)!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == QUIET_ENVIRONMENT
