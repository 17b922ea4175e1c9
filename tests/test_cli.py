"""The command line: one-line reasons and exit status 2 when a run cannot start; the catalogue
with the thresholds in force; configuration errors named at start."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.settings import ConfigError, load_config

runner = CliRunner()


def one_line_failure(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_missing_extracts_folder_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["run", "--extracts", str(tmp_path / "nowhere"), "--db", str(tmp_path / "s.duckdb")])
    assert "extracts folder not found" in one_line_failure(result)
    assert not (tmp_path / "s.duckdb").exists()


def test_bad_as_at_date_is_one_line(tmp_path):
    result = runner.invoke(
        app,
        [
            "run",
            "--extracts",
            str(tmp_path),
            "--as-at",
            "24/11/2026",
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
        ],
    )
    assert "--as-at must be a date" in one_line_failure(result)


def test_unknown_config_key_is_refused_at_start(tmp_path):
    config = tmp_path / "caseflags.toml"
    config.write_text("[linkage]\nmatch_treshold = 0.9\n")
    result = runner.invoke(
        app,
        [
            "run",
            "--extracts",
            str(tmp_path),
            "--config",
            str(config),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
        ],
    )
    assert "unknown key linkage.match_treshold" in one_line_failure(result)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[checks.NOT_A_CHECK]\nx = 1\n", "unknown check [checks.NOT_A_CHECK]"),
        ("[checks.SOCIAL_WORKER_CHANGES_FREQUENT]\nworkers = 3\n", "unknown threshold"),
        ('[checks.SOCIAL_WORKER_CHANGES_FREQUENT]\nmax_social_workers = "three"\n', "must be a number"),
        ("[contracts]\nmin_row_fraction = true\n", "must be float"),
        ('[agencies]\n"Bakery" = "BAKERY"\n', "unknown agency code"),
        ("[nonsense]\n", "unknown section [nonsense]"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_invalid_configuration_is_a_clear_error(tmp_path, text, message):
    config = tmp_path / "caseflags.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(config)


def test_checks_prints_the_catalogue_with_thresholds_in_force(tmp_path):
    from caseflags.checking.registry import load_registry

    registry = load_registry()
    name = next(iter(registry["SOCIAL_WORKER_CHANGES_FREQUENT"].thresholds))
    config = tmp_path / "caseflags.toml"
    config.write_text(f"[checks.SOCIAL_WORKER_CHANGES_FREQUENT]\n{name} = 4\n")
    result = runner.invoke(app, ["checks", "--config", str(config)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for check_id in registry:
        assert check_id in result.output
    assert f"{name} = 4" in result.output
    default = runner.invoke(app, ["checks"], env={"COLUMNS": "250"})
    default_value = registry["SOCIAL_WORKER_CHANGES_FREQUENT"].thresholds[name].default
    assert f"{name} = {default_value}" in default.output
