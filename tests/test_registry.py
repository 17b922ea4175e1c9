import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from check_fixtures import AS_AT, new_store

from caseflags.checking.calendar import ensure_working_days
from caseflags.checking.docs import COMMAND as DOCS_COMMAND
from caseflags.checking.docs import DOCS_DIR, DocsError, rendered, stale
from caseflags.checking.registry import (
    CATALOGUE_DIR,
    CHECKS_SQL_DIR,
    MAGNITUDE_COLUMNS,
    OUTPUT_COLUMNS,
    SEVERITIES,
    RegistryError,
    load_registry,
)
from caseflags.store.database import ensure_store

REGISTRY = load_registry()
GROUP_A = [
    "CIN_EHCP_FLAG_MISSING",
    "VOICE_OF_CHILD_ABSENT",
    "CIN_PLAN_NOT_SMART",
    "CIN_REVIEW_OVERDUE",
    "COMMUNICATION_DELAYED",
    "SCHOOL_ATTENDANCE_LOW",
    "ATTENDANCE_DATA_MISSING",
    "SOCIAL_WORKER_CHANGES_FREQUENT",
    "SOCIAL_WORKER_UNALLOCATED",
    "SOCIAL_WORKER_STALE_IN_PARTNER",
    "GP_NOT_INVITED",
    "GP_NOT_KNOWN",
]

VALID_ENTRY = """
id = "{id}"
concern = "A concern"
owner = "SOCIAL_CARE"
owner_rule = "SOCIAL_CARE"
entity_type = "child"
severity = "MEDIUM"
severity_rule = "MEDIUM always"
inputs = ["ssd_person"]
rule = "A rule"
{extra}
[thresholds.window_days]
default = 90
unit = "days"
description = "Window"
source = "Somewhere (LOCAL)"
"""


def _catalogue(tmp_path: Path, check_id="MY_CHECK", extra="", sql="SELECT $as_at, $window_days", file_id=None):
    catalogue, sql_dir = tmp_path / "catalogue", tmp_path / "sql"
    catalogue.mkdir()
    sql_dir.mkdir()
    (catalogue / f"{file_id or check_id}.toml").write_text(VALID_ENTRY.format(id=check_id, extra=extra))
    if sql is not None:
        (sql_dir / f"{check_id}.sql").write_text(sql)
    return catalogue, sql_dir


def test_registry_is_ordered_and_holds_group_a():
    assert list(REGISTRY) == sorted(REGISTRY)
    assert set(GROUP_A) <= set(REGISTRY)


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_every_entry_is_complete(check_id):
    check = REGISTRY[check_id]
    assert check.sql_path == CHECKS_SQL_DIR / f"{check_id}.sql"
    assert check.severity in SEVERITIES
    for threshold in check.thresholds.values():
        assert threshold.source.strip() and threshold.description.strip() and threshold.unit.strip()
    # Every declared threshold is used by the SQL, and the SQL uses no other parameter.
    assert set(check.thresholds) <= check.parameters()


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_every_check_sql_returns_the_contract_columns(check_id):
    check = REGISTRY[check_id]
    con = new_store()
    if check.scope == "region":
        ensure_store(con, regional=True)
    ensure_working_days(con, AS_AT)  # the store and its macros too
    params = {"as_at": AS_AT, **check.threshold_values()}
    params = {name: value for name, value in params.items() if name in check.parameters()}
    cursor = con.execute(check.sql(), params)
    # the contract's columns, optionally followed by all three magnitude columns
    assert tuple(column[0] for column in cursor.description) in (OUTPUT_COLUMNS, (*OUTPUT_COLUMNS, *MAGNITUDE_COLUMNS))


def test_valid_catalogue_loads(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path)
    check = load_registry(catalogue, sql_dir)["MY_CHECK"]
    assert check.thresholds["window_days"].default == 90
    assert check.threshold_values({"window_days": 30}) == {"window_days": 30}
    with pytest.raises(RegistryError, match="unknown threshold 'windows'"):
        check.threshold_values({"windows": 30})


def test_unknown_key_is_an_error_naming_the_file(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path, extra='colour = "red"')
    with pytest.raises(RegistryError, match=r"MY_CHECK\.toml: unknown keys colour"):
        load_registry(catalogue, sql_dir)


def test_missing_sql_file_is_an_error_naming_the_file(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path, sql=None)
    with pytest.raises(RegistryError, match=r"MY_CHECK\.toml: no SQL file MY_CHECK\.sql"):
        load_registry(catalogue, sql_dir)


def test_duplicate_id_is_an_error_naming_the_file(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path)
    shutil.copy(catalogue / "MY_CHECK.toml", catalogue / "MY_CHECK_COPY.toml")
    with pytest.raises(RegistryError, match=r"MY_CHECK_COPY\.toml: file name does not match id 'MY_CHECK'"):
        load_registry(catalogue, sql_dir)


def test_undeclared_sql_parameter_is_an_error(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path, sql="SELECT $as_at, $window_days, $grace -- $commented_out is fine")
    with pytest.raises(
        RegistryError, match=r"MY_CHECK\.toml: MY_CHECK\.sql uses parameters not declared as thresholds: grace"
    ):
        load_registry(catalogue, sql_dir)


def test_bad_severity_and_missing_keys(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path)
    path = catalogue / "MY_CHECK.toml"
    path.write_text(path.read_text().replace('severity = "MEDIUM"', 'severity = "URGENT"'))
    with pytest.raises(RegistryError, match="severity 'URGENT'"):
        load_registry(catalogue, sql_dir)
    path.write_text(path.read_text().replace('severity = "URGENT"\n', ""))
    with pytest.raises(RegistryError, match="missing keys severity"):
        load_registry(catalogue, sql_dir)


def test_scope_defaults_to_authority_and_must_be_known(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path)
    assert load_registry(catalogue, sql_dir)["MY_CHECK"].scope == "authority"
    path = catalogue / "MY_CHECK.toml"
    path.write_text('scope = "region"\n' + path.read_text())
    assert load_registry(catalogue, sql_dir)["MY_CHECK"].scope == "region"
    path.write_text(path.read_text().replace('scope = "region"', 'scope = "nation"'))
    with pytest.raises(RegistryError, match="scope 'nation'"):
        load_registry(catalogue, sql_dir)


def test_regional_checks_run_only_in_the_region():
    from check_fixtures import new_store as authority_store

    from caseflags.checking.runner import run_all_checks

    regional = {check.id for check in REGISTRY.values() if check.scope == "region"}
    assert regional == {"CROSS_BORDER_NOT_SHARED", "CROSS_BORDER_SCHOOL_ATTENDANCE"}
    authority = {o.check_id for o in run_all_checks(authority_store(), "run-1", AS_AT)}
    assert not authority & regional and authority == set(REGISTRY) - regional
    con = authority_store()
    ensure_store(con, regional=True)
    assert {o.check_id for o in run_all_checks(con, "run-1", AS_AT, scope="region")} == regional


def test_real_catalogue_location():
    # The catalogue is the top-level checks/ folder: each check's TOML beside its SQL.
    tomls = sorted(p.stem for p in CATALOGUE_DIR.glob("*.toml"))
    assert CATALOGUE_DIR.name == "checks" and tomls
    assert tomls == sorted(p.stem for p in CATALOGUE_DIR.glob("*.sql"))


def test_docs_restate_every_check_and_threshold():
    text = (Path(__file__).resolve().parents[1] / "docs" / "CHECKS.md").read_text()
    for check in REGISTRY.values():
        assert f"### `{check.id}`" in text, check.id
        for name in check.thresholds:
            assert f"`{name}`" in text, f"{check.id}.{name}"


def test_generated_docs_are_current():
    # docs/CHECKS.md's "Checks" and ARCHITECTURE.md's exception keys are generated from the TOML.
    outdated = stale()
    assert not outdated, f"stale: {', '.join(p.name for p in outdated)}; regenerate with `{DOCS_COMMAND}`"


def test_a_catalogue_change_makes_the_docs_stale_until_regenerated(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(DOCS_DIR, docs)
    changed = dict(REGISTRY)
    changed["GP_NOT_KNOWN"] = replace(
        REGISTRY["GP_NOT_KNOWN"], severity_rule="HIGH always", doc={**REGISTRY["GP_NOT_KNOWN"].doc, "key_agency": "GP"}
    )
    assert stale(docs, changed) == [docs / "CHECKS.md", docs / "ARCHITECTURE.md"]
    for path, text in rendered(docs, changed).items():
        path.write_text(text)
    assert stale(docs, changed) == [] and "- **Severity**: HIGH always\n" in (docs / "CHECKS.md").read_text()
    assert "| `GP_NOT_KNOWN` | `child` | person_id | child | GP |" in (docs / "ARCHITECTURE.md").read_text()


def test_a_check_without_its_exception_key_cannot_be_documented(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(DOCS_DIR, docs)
    bare = replace(REGISTRY["GP_NOT_KNOWN"], doc={})
    with pytest.raises(DocsError, match=r"checks/GP_NOT_KNOWN\.toml: key_entity_id is missing"):
        rendered(docs, {**REGISTRY, "GP_NOT_KNOWN": bare})


def test_short_name_over_excel_limit_or_with_sheet_characters_is_refused(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path, extra='short_name = "' + "x" * 32 + '"')
    with pytest.raises(RegistryError, match="short_name must be at most 31"):
        load_registry(catalogue, sql_dir)
    (tmp_path / "b").mkdir()
    catalogue, sql_dir = _catalogue(tmp_path / "b", extra='short_name = "a/b"')
    with pytest.raises(RegistryError, match="short_name must not contain"):
        load_registry(catalogue, sql_dir)


def test_two_checks_sharing_a_short_name_are_refused(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path, extra='short_name = "Same name"')
    (catalogue / "OTHER_CHECK.toml").write_text(VALID_ENTRY.format(id="OTHER_CHECK", extra='short_name = "same NAME"'))
    (sql_dir / "OTHER_CHECK.sql").write_text("SELECT $as_at, $window_days")
    with pytest.raises(RegistryError, match="is also MY_CHECK's"):
        load_registry(catalogue, sql_dir)


def test_action_text_names_who_and_what(tmp_path):
    catalogue, sql_dir = _catalogue(tmp_path, extra='action = "do it."\naction_by = "the worker"')
    check = load_registry(catalogue, sql_dir)["MY_CHECK"]
    assert check.action_text() == " Action for the worker: do it."


def test_the_registry_is_read_again_when_a_file_changes_and_callers_get_their_own_dict(tmp_path):
    # load_registry keeps the catalogue read once per process while its files are unchanged.
    catalogue, sql_dir = _catalogue(tmp_path)
    first = load_registry(catalogue, sql_dir)
    first.pop("MY_CHECK")
    assert "MY_CHECK" in load_registry(catalogue, sql_dir)
    toml = catalogue / "MY_CHECK.toml"
    toml.write_text(toml.read_text().replace("default = 90", "default = 91"))  # same size, same tick
    assert load_registry(catalogue, sql_dir)["MY_CHECK"].thresholds["window_days"].default == 91
    (sql_dir / "MY_CHECK.sql").unlink()
    with pytest.raises(RegistryError, match="no SQL file"):
        load_registry(catalogue, sql_dir)
