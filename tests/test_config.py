"""Configuration validated as a whole at start (issue 16): ranges, cron and timezone, cross-field
rules, every problem at once, one line each; and the retention floor."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from caseflags import runbook as pipeline
from caseflags.cli import app
from caseflags.settings import ConfigError, load_config
from caseflags.store.database import connect, ensure_store
from caseflags.store.retention import apply_retention

BAD = [
    ("[contracts]\nmin_row_fraction = -0.1\n", "contracts.min_row_fraction must be between 0.0 and 1.0, got -0.1"),
    ("[contracts]\nmin_row_fraction = 1.5\n", "contracts.min_row_fraction must be between"),
    ('[contracts]\nearliest_plausible_date = "yesterday"\n', "earliest_plausible_date must be a date"),
    ("[contracts]\nmax_days_after_as_at = -1\n", "contracts.max_days_after_as_at must be between"),
    ("[linkage]\nmatch_threshold = 5.0\n", "linkage.match_threshold must be between 0.5 and 1.0, got 5.0"),
    ("[linkage]\nreview_threshold = -0.2\n", "linkage.review_threshold must be between"),
    (
        "[linkage]\nmatch_threshold = 0.9\nreview_threshold = 0.95\n",
        "review_threshold (0.95) must not be above linkage.match_threshold (0.9)",
    ),
    ("[outputs]\nannotation_expiry_days = -30\n", "outputs.annotation_expiry_days must be between 1 and 3650"),
    ("[sample]\nsize = -3\n", "sample.size must be between 1 and 1000"),
    ("[sample]\nsize = 0\n", "sample.size must be between 1 and 1000"),
    ("[sample]\nsize = 4\ncontrols = 5\n", "sample.controls (5) must not be above sample.size (4)"),
    ("[sample]\nexclude_audited_within_days = -1\n", "sample.exclude_audited_within_days must be between"),
    ('[sample]\ncohort = "EVERYONE"\n', "sample.cohort must be one of"),
    ('[schedule]\ncron = "every night"\n', "schedule.cron 'every night' is not a cron expression"),
    ('[schedule]\ncron = "61 2 * * *"\n', "schedule.cron '61 2 * * *' is not a cron expression"),
    ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone 'Mars/Olympus' is not a known timezone"),
    ('[schedule]\ntimezone = "../../etc/passwd"\n', "is not a known timezone"),
    ("[retention]\nkeep_runs_days = -1\n", "retention.keep_runs_days must be between 1 and 36500, got -1"),
    ("[retention]\nkeep_runs_days = 0\n", "retention.keep_runs_days must be between 1 and 36500, got 0"),
    ("[retention]\nkeep_last_runs = 0\n", "retention.keep_last_runs must be between 1 and"),
    ("[retention]\nkeep_deliveries_days = -5\n", "retention.keep_deliveries_days must be between 1 and"),
    # issue 27: zero windows, huge thresholds and every [web] number
    (
        "[checks.GP_NOT_INVITED]\nwindow_days = 0\n",
        "checks.GP_NOT_INVITED.window_days must be between 1 and 3660 (days), got 0",
    ),
    (
        "[checks.GP_NOT_INVITED]\nwindow_days = 9223372036854775807\n",
        "checks.GP_NOT_INVITED.window_days must be between 1 and 3660",
    ),
    (
        "[checks.CIN_REVIEW_OVERDUE]\nreview_interval_weeks = 0\n",
        "review_interval_weeks must be between 1 and 520 (weeks)",
    ),
    (
        "[checks.SCHOOL_ATTENDANCE_LOW]\npersistent_absence_pct = 101\n",
        "persistent_absence_pct must be between 1 and 100 (percent)",
    ),
    ("[checks.COMMUNICATION_DELAYED]\nlimit_working_days = -1\n", "limit_working_days must be between 0 and 1000"),
    ("[web]\npage_size = 0\n", "web.page_size must be between 1 and 1000, got 0"),
    ("[web]\nsession_hours = -1\n", "web.session_hours must be between 1 and 720, got -1"),
    ("[web]\nport = 70000\n", "web.port must be between 1 and 65535, got 70000"),
    ("[web]\nport = 0\n", "web.port must be between 1 and 65535, got 0"),
    ("[web]\nreview_due_days = 0\n", "web.review_due_days must be between 1 and 3650"),
    ("[ingest]\nmax_field_size = 9223372036854775807\n", "ingest.max_field_size must be between 1 and 1073741824"),
    ("[limits]\nmax_text_length = 0\n", "limits.max_text_length must be between 1 and 100000"),
    ("[limits]\nmax_workbook_bytes = 9223372036854775807\n", "limits.max_workbook_bytes must be between"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m.split(" must")[0].split(":")[-1].strip()[:40] for _, m in BAD])
def test_each_bad_value_is_refused_naming_the_key(tmp_path, text, message):
    config = tmp_path / "caseflags.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert any(message in problem for problem in raised.value.problems), raised.value.problems
    assert all(problem.startswith(str(config)) for problem in raised.value.problems)


def test_every_problem_is_listed_at_once_one_line_each_and_exit_2(tmp_path):
    config = tmp_path / "caseflags.toml"
    config.write_text(
        '[linkage]\nmatch_threshold = 5.0\nmatch_treshold = 1\n[schedule]\ncron = "every night"\n'
        'timezone = "Mars/Olympus"\n[retention]\nkeep_runs_days = -1\n[nonsense]\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert len(raised.value.problems) == 6, raised.value.problems

    extracts = tmp_path / "extracts"
    extracts.mkdir()
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--extracts",
            str(extracts),
            "--config",
            str(config),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
        ],
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 6 and all(line.startswith("caseflags: ") for line in lines), result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.duckdb").exists()


def test_serve_refuses_a_bad_cron_before_prefect_is_reached(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # would fail later, were it reached
    config = tmp_path / "caseflags.toml"
    config.write_text('[schedule]\ncron = "every night"\n')
    result = CliRunner().invoke(app, ["serve", "--extracts", str(tmp_path), "--config", str(config)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"caseflags: {config}: schedule.cron 'every night' is not a cron expression (Wrong number of fields)"
    ]


def test_the_defaults_are_valid():
    config = load_config()
    assert config.retention["keep_last_runs"] >= 1
    assert config.linkage["review_threshold"] <= config.linkage["match_threshold"]


def test_every_number_has_a_range_beside_the_defaults_and_its_default_is_in_it():
    import tomllib

    from caseflags.checking.registry import load_registry
    from caseflags.config import RANGES, THRESHOLD_RANGES
    from caseflags.resources import DEFAULT_CONFIG

    defaults = tomllib.loads(DEFAULT_CONFIG.read_text())
    numbers = {
        f"{section}.{key}": value
        for section, keys in defaults.items()
        if isinstance(keys, dict)
        for key, value in keys.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    assert set(numbers) == set(RANGES), set(numbers) ^ set(RANGES)
    for name, value in numbers.items():
        low, high = RANGES[name]
        assert low <= value <= high, name
    for check in load_registry().values():
        for name, threshold in check.thresholds.items():
            if isinstance(threshold.default, (int, float)):
                low, high = THRESHOLD_RANGES[threshold.unit]
                assert low <= threshold.default <= high, (check.id, name)


@pytest.mark.parametrize(
    "text",
    [
        "[checks.GP_NOT_INVITED]\nwindow_days = 1\n",
        "[checks.GP_NOT_INVITED]\nwindow_days = 3660\n",
        "[checks.COMMUNICATION_DELAYED]\nlimit_working_days = 0\n",
        "[web]\nport = 1\npage_size = 1\nsession_hours = 1\n",
        "[web]\nport = 65535\n",
    ],
)
def test_values_at_the_bounds_are_accepted(tmp_path, text):
    config = tmp_path / "caseflags.toml"
    config.write_text(text)
    load_config(config)


def test_a_zero_window_is_refused_by_run_in_one_line_with_exit_2(tmp_path):
    config = tmp_path / "caseflags.toml"
    config.write_text("[checks.GP_NOT_INVITED]\nwindow_days = 0\n")
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--extracts",
            str(extracts),
            "--config",
            str(config),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
        ],
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"caseflags: {config}: checks.GP_NOT_INVITED.window_days must be between 1 and 3660 (days), got 0"
    ]


def _add_run(con, run_id: str, as_at: date) -> None:
    con.execute(
        "INSERT INTO runs (run_id, as_at, started_at, status) VALUES (?, ?, ?::TIMESTAMP, 'COMPLETED')",
        [run_id, as_at, f"{as_at} 02:00:00"],
    )
    con.execute(
        "INSERT INTO exceptions VALUES (?, ?, 'e1', 'GP_NOT_KNOWN', 'c', 'MEDIUM', 'P1', 'SOCIAL_CARE', 'child', 'P1', 'd', 'l')",
        [run_id, as_at],
    )


def test_retention_never_prunes_the_current_run_or_the_last_n_whatever_the_ages(tmp_path):
    """Even a configuration that slipped past validation (a negative age) keeps the floor."""
    con = connect(tmp_path / "store.duckdb")
    ensure_store(con)
    days = [date(2026, 11, d) for d in range(1, 8)]
    for day in days:
        _add_run(con, day.isoformat(), day)
        (tmp_path / "reports" / day.isoformat()).mkdir(parents=True)
    state = pipeline.new_run(con, date(2026, 11, 8), tmp_path / "delivery", tmp_path / "reports")
    (tmp_path / "reports" / "2026-11-08").mkdir()
    pruned = apply_retention(
        con, state.as_at, state.out_dir, keep_runs_days=-10, current_run_id=state.run_id, keep_last_runs=3
    )
    kept = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall()]
    assert kept == ["2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08"]
    assert pruned["runs"] == 4
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == kept
    assert {r[0] for r in con.execute("SELECT DISTINCT run_id FROM exceptions").fetchall()} == set(kept[:-1])


def test_web_refuses_a_port_out_of_range_without_a_traceback(tmp_path):
    config = tmp_path / "caseflags.toml"
    config.write_text("[web]\nport = 70000\n")
    db = tmp_path / "s.duckdb"
    db.write_bytes(b"")
    from_config = CliRunner().invoke(app, ["web", "--db", str(db), "--config", str(config)])
    assert from_config.exit_code == 2 and "web.port must be between 1 and 65535, got 70000" in from_config.output
    from_option = CliRunner().invoke(app, ["web", "--db", str(db), "--port", "70000"])
    assert from_option.exit_code == 2 and "Traceback" not in from_option.output
    assert "65535" in from_option.output
