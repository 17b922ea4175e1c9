"""Commands that cannot silently do the wrong thing (issue 16): wrong paths, read-only folders,
a full disk, private files after a kill, and a quiet, offline run.

Fast tests drive the CLI in-process or the runbook in a subprocess; the two that start Prefect's
temporary server (a whole `caseflags run`) are marked `prefect`.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.runbook import FAULT_ENV
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.store.database import connect, ensure_store

AS_AT = "2026-11-24"
runner = CliRunner()


def one_line_failure(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


# --- wrong paths -------------------------------------------------------------------------------


def test_extracts_is_required(tmp_path):
    result = runner.invoke(app, ["run", "--db", str(tmp_path / "s.duckdb"), "--new-store"])
    assert result.exit_code == 2 and "--extracts" in result.output
    assert not (tmp_path / "s.duckdb").exists()


def test_a_typo_in_db_is_an_error_naming_it_and_creates_nothing(tmp_path):
    typo = tmp_path / "caseflgas.duckdb"
    result = runner.invoke(
        app,
        [
            "run",
            "--extracts",
            str(SAMPLE_DELIVERY),
            "--db",
            str(typo),
            "--out",
            str(tmp_path / "reports"),
            "--as-at",
            AS_AT,
        ],
    )
    line = one_line_failure(result)
    assert f"store {typo} does not exist" in line and "--new-store" in line
    assert not typo.exists() and not (tmp_path / "reports").exists()


def test_a_folder_given_as_db_is_one_line(tmp_path):
    folder = tmp_path / "stores"
    folder.mkdir()
    for args in (
        ["run", "--extracts", str(SAMPLE_DELIVERY), "--new-store"],
        ["review", "import", str(folder)],
        ["sample", "mark-audited", "AS-1"],
    ):
        result = runner.invoke(app, [*args, "--db", str(folder)])
        line = one_line_failure(result)
        assert str(folder) in line, line


def test_other_commands_never_create_a_store(tmp_path):
    missing = tmp_path / "none.duckdb"
    result = runner.invoke(app, ["sample", "mark-audited", "AS-1", "--db", str(missing)])
    assert f"store {missing} does not exist" in one_line_failure(result)
    assert not missing.exists()


@contextmanager
def mounted_tmpfs(path: Path, size: str, read_only: bool = False):
    """A small tmpfs (root only); the test is skipped where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_read_only_output_folder_is_refused_before_ingest(tmp_path):
    with mounted_tmpfs(tmp_path / "ro", "1m", read_only=True) as out:
        db = tmp_path / "store.duckdb"
        result = runner.invoke(
            app,
            [
                "run",
                "--extracts",
                str(SAMPLE_DELIVERY),
                "--db",
                str(db),
                "--new-store",
                "--out",
                str(out / "reports"),
                "--as-at",
                AS_AT,
            ],
        )
        line = one_line_failure(result)
        assert f"reports folder --out {out / 'reports'} is not writable" in line and "read-only" in line
        assert not db.exists()  # refused before the store was opened, let alone loaded


def test_a_read_only_output_folder_without_root_is_refused(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a 0500 folder; the read-only mount test covers root")
    out = tmp_path / "reports"
    out.mkdir(mode=0o500)
    result = runner.invoke(
        app,
        [
            "run",
            "--extracts",
            str(SAMPLE_DELIVERY),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
            "--out",
            str(out),
            "--as-at",
            AS_AT,
        ],
    )
    assert "is not writable" in one_line_failure(result)


# --- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def sampled_store(tmp_path):
    """A store file with a completed run and a small audit cohort, for `caseflags sample`."""
    from test_audit_sample import add_cohort_child, add_run

    db = tmp_path / "store.duckdb"
    con = connect(db)
    ensure_store(con)
    add_run(con)
    for i in range(4):
        add_cohort_child(con, f"C{i}", checks=["GP_NOT_KNOWN"] if i % 2 else [])
    con.close()
    return db


def test_disk_full_while_writing_is_one_line_naming_the_file(sampled_store, tmp_path, monkeypatch):
    import caseflags.outputs.files as files

    def full_disk(final):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final))

    monkeypatch.setattr(files, "temp_path", full_disk)
    result = runner.invoke(
        app,
        [
            "sample",
            "--size",
            "2",
            "--seed",
            "1",
            "--as-at",
            AS_AT,
            "--db",
            str(sampled_store),
            "--out",
            str(tmp_path / "reports"),
        ],
    )
    line = one_line_failure(result)
    assert "no space left on the disk" in line and str(tmp_path / "reports" / "samples") in line


def test_disk_full_on_a_real_full_file_system(sampled_store, tmp_path):
    with mounted_tmpfs(tmp_path / "tiny", "12k") as tiny:
        (tiny / "filler").write_bytes(b"x" * 8192)
        result = runner.invoke(
            app,
            [
                "sample",
                "--size",
                "4",
                "--seed",
                "1",
                "--as-at",
                AS_AT,
                "--db",
                str(sampled_store),
                "--out",
                str(tiny / "reports"),
            ],
        )
        line = one_line_failure(result)
        assert "no space left on the disk" in line and str(tiny) in line, line


def test_debug_prints_the_traceback_first(sampled_store, tmp_path, monkeypatch):
    import caseflags.failures as failures
    import caseflags.outputs.files as files

    def full_disk(final):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final))

    monkeypatch.setattr(files, "temp_path", full_disk)
    monkeypatch.setitem(failures.debug, "on", False)
    result = runner.invoke(
        app,
        [
            "--debug",
            "sample",
            "--size",
            "2",
            "--seed",
            "1",
            "--as-at",
            AS_AT,
            "--db",
            str(sampled_store),
            "--out",
            str(tmp_path / "reports"),
        ],
    )
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.output
    assert result.output.strip().splitlines()[-1].startswith("caseflags: cannot write or read")


# --- private files after a kill ----------------------------------------------------------------

KILLED_RUN = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path
    from caseflags.environment import prepare_process
    prepare_process()  # what the CLI entry point does first
    from caseflags.settings import load_config
    from caseflags.runbook import run_without_prefect
    from caseflags.store.database import connect
    db, extracts, out = sys.argv[1:4]
    con = connect(db, create=True)
    run_without_prefect(con, Path(extracts), date(2026, 11, 24), Path(out), load_config(), db_path=Path(db))
    """
)


@pytest.mark.e2e  # the whole night on the sample, killed before its outputs
def test_wal_and_new_store_folder_are_private_after_a_kill(tmp_path):
    db = tmp_path / "new" / "stores" / "store.duckdb"
    env = {**os.environ, FAULT_ENV: "before:outputs"}
    os.umask(0o022)  # the test's own umask is permissive: the process must not rely on it
    result = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(db), str(SAMPLE_DELIVERY), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    wal = Path(f"{db}.wal")
    assert wal.exists() and wal.stat().st_size > 0, "the killed run left no WAL to check"
    for path in [db, wal, *db.parent.iterdir()]:
        assert private(path), f"{path} is {oct(stat.S_IMODE(path.stat().st_mode))}"
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


def test_the_cli_entry_point_sets_the_umask_first():
    code = (
        "import os; from caseflags import cli; cli.app = lambda **kw: None; cli.main(); "
        "print(oct(os.umask(0)), os.environ['DO_NOT_TRACK'], os.environ['PREFECT_SERVER_ANALYTICS_ENABLED'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["0o77", "1", "false"], done.stderr[-2000:]


# --- whole runs through the CLI (Prefect's temporary server) --------------------------------------


def offline_env(home: Path) -> dict:
    """No network: every proxy points at a closed port; Prefect's own server stays local."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DO_NOT_TRACK", "GX_")) and k != FAULT_ENV
    }
    dead = "http://127.0.0.1:9"
    env.update(
        {
            "PREFECT_HOME": str(home),
            "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead,
            "ALL_PROXY": dead,
            "http_proxy": dead,
            "https_proxy": dead,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


@pytest.mark.prefect
def test_the_readme_run_is_quiet_offline_and_private(tmp_path):
    home = tmp_path / "prefect-home"
    db = tmp_path / "data" / "caseflags.duckdb"
    os.umask(0o022)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "caseflags",
            "run",
            "--extracts",
            str(SAMPLE_DELIVERY),
            "--new-store",
            "--db",
            str(db),
            "--out",
            str(tmp_path / "reports"),
            "--as-at",
            AS_AT,
        ],
        env=offline_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERROR" not in result.stderr + result.stdout
    assert result.stderr.strip() == "", result.stderr[-3000:]  # not a terminal: nothing but the summary
    run_dir = tmp_path / "reports" / AS_AT
    record = json.loads((run_dir / "run.json").read_text())
    assert record["delivery"]["folder"] == str(SAMPLE_DELIVERY.resolve())
    assert len(record["delivery"]["digest"]) == 64 and record["delivery"]["files"] > 20
    assert record["delivery"]["digest"] in (run_dir / "report.html").read_text()
    for root in (db.parent, home, tmp_path / "reports"):
        for path in [root, *root.rglob("*")]:
            assert private(path), f"{path} is {oct(stat.S_IMODE(path.stat().st_mode))}"


@pytest.mark.prefect
def test_disk_full_during_a_run_is_one_line(tmp_path):
    with mounted_tmpfs(tmp_path / "tiny", "200k") as tiny:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "caseflags",
                "run",
                "--extracts",
                str(SAMPLE_DELIVERY),
                "--new-store",
                "--db",
                str(tmp_path / "store.duckdb"),
                "--out",
                str(tiny / "reports"),
                "--as-at",
                AS_AT,
            ],
            env=offline_env(tmp_path / "prefect-home"),
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and "no space left on the disk" in lines[0] and str(tiny) in lines[0], lines[-5:]


def test_a_terminal_gets_one_progress_line_and_a_pipe_nothing(monkeypatch):
    import io
    import logging

    from rich.console import Console

    import caseflags.cli as cli

    progress = logging.getLogger("caseflags.progress")
    for terminal in (True, False):
        buffer = io.StringIO()
        monkeypatch.setattr(cli, "err", Console(file=buffer, force_terminal=terminal, width=80))
        with cli._progress("caseflags run 2026-11-24"):
            for stage in ("ingest", "contracts", "link", "checks", "outputs"):
                progress.info(stage)
        text = buffer.getvalue()
        if terminal:
            assert "caseflags run 2026-11-24: outputs" in text
        else:
            assert text == ""


def test_run_json_and_report_record_the_delivery_folder_and_digest(sample_run):
    from caseflags.runbook import delivery_digest

    _, run_dir, record = sample_run
    expected = delivery_digest(SAMPLE_DELIVERY)
    assert record["delivery"] == expected and expected["folder"] == str(SAMPLE_DELIVERY.resolve())
    assert json.loads((run_dir / "run.json").read_text())["delivery"] == expected
    assert expected["digest"] in (run_dir / "report.html").read_text(encoding="utf-8")


def test_the_delivery_digest_changes_with_any_file(tmp_path):
    from caseflags.runbook import delivery_digest

    (tmp_path / "meetings.csv").write_text("meeting_id\nM1\n")
    (tmp_path / ".hidden").write_text("ignored")
    first = delivery_digest(tmp_path)
    (tmp_path / "meetings.csv").write_text("meeting_id\nM2\n")
    second = delivery_digest(tmp_path)
    (tmp_path / "meetings.csv").rename(tmp_path / "other.csv")
    third = delivery_digest(tmp_path)
    assert first["files"] == second["files"] == third["files"] == 1
    assert len({first["digest"], second["digest"], third["digest"]}) == 3
