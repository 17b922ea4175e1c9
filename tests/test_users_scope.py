"""`caseflags users add|edit|enable` check the agency and organisation against the store (issue 27):
a user scoped to an agency or organisation the store has never seen would see "0 listed" with no
hint. A user can be re-enabled and re-scoped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from check_fixtures import insert
from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.store.database import connect, ensure_store
from caseflags.web import accounts
from caseflags.workspace.database import connect_workspace, workspace_path

runner = CliRunner()
PASSWORD = "a-long-password-1\n"


def store_knowing(path: Path, practice_code: str = "L81010", school_urn: str = "109397") -> Path:
    """A store knowing one GP practice and one school URN."""
    con = connect(path)
    try:
        ensure_store(con)
        insert(
            con,
            "gp_registrations",
            nhs_number="9434765919",
            practice_code=practice_code,
            registered_from=date(2020, 1, 1),
        )
        insert(
            con,
            "attendance_summaries",
            upn="A123456789012",
            school_urn=school_urn,
            period_start=date(2026, 9, 1),
            period_end=date(2026, 10, 31),
            possible_sessions=80,
            present_sessions=70,
        )
    finally:
        con.close()
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    return store_knowing(tmp_path / "store.duckdb")


def _users(db: Path, *args: str, password: str | None = None):
    return runner.invoke(app, ["users", *args, "--db", str(db)], input=password)


def _user(db: Path, name: str) -> accounts.User | None:
    ws = connect_workspace(workspace_path(db))
    try:
        return accounts.get_user(ws, name)
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--role", "agency", "--agency", "NOT_AN_AGENCY", "--org", "ZZZ999"],
            "--agency NOT_AN_AGENCY is not an agency code",
        ),
        (
            ["--role", "agency", "--agency", "GP", "--org", "ZZZ999"],
            "--org ZZZ999 is not a GP practice the store knows",
        ),
        (
            ["--role", "agency", "--agency", "EDUCATION", "--org", "L81010"],
            "--org L81010 is not a school URN the store knows",
        ),
        (["--role", "agency", "--agency", "POLICE", "--org", "L81010"], "--org is only for EDUCATION and GP users"),
        (["--role", "officer", "--agency", "GP"], "an officer sees every agency"),
    ],
)
def test_users_add_refuses_a_scope_the_store_does_not_know(db, args, message):
    result = _users(db, "add", "someone", *args, password=PASSWORD)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1, result.output
    assert _user(db, "someone") is None


def test_users_add_accepts_a_known_practice_and_school(db):
    assert (
        _users(db, "add", "gp1", "--role", "agency", "--agency", "gp", "--org", "l81010", password=PASSWORD).exit_code
        == 0
    )
    assert (
        _users(
            db, "add", "sch1", "--role", "agency", "--agency", "EDUCATION", "--org", "109397", password=PASSWORD
        ).exit_code
        == 0
    )
    assert _users(db, "add", "pol", "--role", "agency", "--agency", "POLICE", password=PASSWORD).exit_code == 0
    assert (_user(db, "gp1").agency, _user(db, "gp1").org) == ("GP", "L81010")


def test_a_user_can_be_rescoped_checked_against_the_store(db):
    assert (
        _users(db, "add", "ann", "--role", "agency", "--agency", "GP", "--org", "L81010", password=PASSWORD).exit_code
        == 0
    )
    refused = _users(db, "edit", "ann", "--org", "ZZZ999")
    assert refused.exit_code == 2 and "--org ZZZ999 is not a GP practice the store knows" in refused.output
    assert _user(db, "ann").org == "L81010"
    moved = _users(db, "edit", "ann", "--agency", "EDUCATION", "--org", "109397")
    assert moved.exit_code == 0, moved.output
    assert (_user(db, "ann").agency, _user(db, "ann").org) == ("EDUCATION", "109397")
    whole = _users(db, "edit", "ann", "--org", "")
    assert whole.exit_code == 0 and (_user(db, "ann").agency, _user(db, "ann").org) == ("EDUCATION", None)
    officer = _users(db, "edit", "ann", "--role", "officer")
    assert officer.exit_code == 0 and _user(db, "ann").is_officer and _user(db, "ann").agency is None
    missing = _users(db, "edit", "nobody", "--role", "officer")
    assert missing.exit_code == 2 and "no user nobody" in missing.output


def test_a_disabled_user_can_be_enabled_again(db):
    assert (
        _users(db, "add", "bob", "--role", "agency", "--agency", "GP", "--org", "L81010", password=PASSWORD).exit_code
        == 0
    )
    assert _users(db, "disable", "bob").exit_code == 0
    assert _user(db, "bob").disabled
    enabled = _users(db, "enable", "bob")
    assert enabled.exit_code == 0, enabled.output
    assert not _user(db, "bob").disabled
    ws = connect_workspace(workspace_path(db))
    try:
        assert accounts.authenticate(ws, "bob", PASSWORD.strip(), "c") is not None
    finally:
        ws.close()
