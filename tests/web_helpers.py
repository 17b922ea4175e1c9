"""Helpers of the web workspace tests: a writable copy of the sample run's store, users, a login."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb

from caseflags.outputs.snapshot import publish_snapshot
from caseflags.web.accounts import add_user
from caseflags.workspace.database import connect_workspace, workspace_path

OFFICER = ("officer.ann", "officer-password-1")
GP_USER = ("gp.practice", "gp-password-123")


def copy_store(sample_run, folder: Path) -> Path:
    """The session's sample store (run 2026-11-24) copied, with its linkage model, into folder."""
    db, _run_dir, _record = sample_run
    target = folder / "store.duckdb"
    shutil.copy2(db, target)
    model = db.with_suffix(".linkage-model.json")
    if model.exists():
        shutil.copy2(model, target.with_suffix(".linkage-model.json"))
    con = duckdb.connect(str(target))
    try:
        publish_snapshot(con)
    finally:
        con.close()
    return target


def practices(db: Path) -> list[tuple[str, str]]:
    """(practice, a child with a GP row there), busiest practice first."""
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    try:
        return con.execute(
            """SELECT organisation, min(person_id) FROM web_exceptions
               WHERE agency = 'GP' AND organisation IS NOT NULL AND person_id IS NOT NULL
               GROUP BY organisation ORDER BY count(*) DESC, organisation"""
        ).fetchall()
    finally:
        con.close()


def add_users(db: Path, practice: str) -> None:
    ws = connect_workspace(workspace_path(db))
    try:
        add_user(ws, OFFICER[0], OFFICER[1], "officer", None, None)
        add_user(ws, GP_USER[0], GP_USER[1], "agency", "GP", practice)
    finally:
        ws.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username: str, password: str):
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )
