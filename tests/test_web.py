"""The officers' workspace without a browser: accounts, scope, CSRF, reviews and the nightly.

The browser end-to-end tests are in test_web_browser.py. These drive the Starlette application
in process (TestClient) on a copy of the sample run's store, and the nightly in another process
where concurrency is the point.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from caseflags.audit.chronology import build_chronology
from caseflags.cli import app as cli_app
from caseflags.web import accounts
from caseflags.web.app import Settings, create_app
from caseflags.web.carry import carry_link_decisions, carry_web_reviews
from caseflags.web.queries import child_events
from caseflags.store.locking import store_lock
from caseflags.web.snapshot import nightly_running
from caseflags.web.workspace import connect_workspace, workspace_path
from web_helpers import GP_USER, OFFICER, add_users, copy_store, csrf_of, login, practices

NEXT_NIGHT = date(2026, 11, 25)


@pytest.fixture(scope="module")
def web_store(sample_run, tmp_path_factory):
    db = copy_store(sample_run, tmp_path_factory.mktemp("web"))
    found = practices(db)
    assert len(found) >= 2, "the sample must have GP rows at two practices at least"
    add_users(db, found[0][0])
    return db, found


@pytest.fixture
def client(web_store):
    db, _ = web_store
    with TestClient(create_app(Settings(db_path=db))) as test_client:
        yield test_client


def _officer(client):
    assert login(client, *OFFICER).status_code == 303
    return client


def _csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.text)))


# -- accounts ----------------------------------------------------------------------------------

def test_passwords_are_argon2_hashes_and_logins_are_rate_limited(tmp_path):
    ws = connect_workspace(tmp_path / "w.web.sqlite")
    accounts.add_user(ws, "ann", "correct horse battery", "officer", None, None)
    stored = ws.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert accounts.authenticate(ws, "ann", "correct horse battery", "10.0.0.1", now=1000.0).username == "ann"
    for attempt in range(accounts.MAX_FAILURES):
        assert accounts.authenticate(ws, "ann", f"wrong {attempt}", "10.0.0.2", now=1000.0 + attempt) is None
    with pytest.raises(accounts.LoginRefused):  # even the right password, while locked
        accounts.authenticate(ws, "ann", "correct horse battery", "10.0.0.3", now=1010.0)
    later = 1000.0 + accounts.FAILURE_WINDOW_SECONDS + 10
    assert accounts.authenticate(ws, "ann", "correct horse battery", "10.0.0.3", now=later).username == "ann"
    with pytest.raises(accounts.AccountError):
        accounts.add_user(ws, "gp", "long enough pw", "agency", None, None)  # an agency user needs an agency
    assert stat.S_IMODE(os.stat(tmp_path / "w.web.sqlite").st_mode) == 0o600


def test_users_commands_read_the_password_from_standard_input(tmp_path):
    db = tmp_path / "store.duckdb"
    runner = CliRunner()
    added = runner.invoke(cli_app, ["users", "add", "sch1", "--role", "agency", "--agency", "EDUCATION", "--org", "109397",
                                    "--db", str(db)], input="school-password-1\n")
    assert added.exit_code == 0, added.output
    ws = connect_workspace(workspace_path(db))
    assert accounts.authenticate(ws, "sch1", "school-password-1", "c") is not None
    changed = runner.invoke(cli_app, ["users", "password", "sch1", "--db", str(db)], input="another-password-2\n")
    assert changed.exit_code == 0, changed.output
    assert accounts.authenticate(ws, "sch1", "school-password-1", "c") is None
    assert runner.invoke(cli_app, ["users", "disable", "sch1", "--db", str(db)]).exit_code == 0
    assert accounts.authenticate(ws, "sch1", "another-password-2", "c") is None
    listed = runner.invoke(cli_app, ["users", "list", "--db", str(db)])
    assert "sch1" in listed.output and "disabled" in listed.output
    short = runner.invoke(cli_app, ["users", "add", "x", "--role", "officer", "--db", str(db)], input="short\n")
    assert short.exit_code == 2 and "at least" in short.output


def test_login_page_and_healthz(client):
    assert client.get("/healthz").json()["status"] == "ok"
    page = client.get("/login")
    assert 'name="username"' in page.text and 'name="password"' in page.text and 'name="csrf_token"' in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert login(client, OFFICER[0], "wrong password").status_code == 401


def test_a_disabled_user_or_a_new_password_ends_the_session(web_store):
    db, _ = web_store
    ws = connect_workspace(workspace_path(db))
    accounts.add_user(ws, "temp.officer", "temporary-pass-1", "officer", None, None)
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert login(c, "temp.officer", "temporary-pass-1").status_code == 303
        assert c.get("/exceptions").status_code == 200
        accounts.set_password(ws, "temp.officer", "temporary-pass-2")
        assert c.get("/exceptions", follow_redirects=False).status_code == 303
        assert login(c, "temp.officer", "temporary-pass-2").status_code == 303
        accounts.disable_user(ws, "temp.officer")
        assert c.get("/exceptions", follow_redirects=False).status_code == 303


# -- pages and scope ---------------------------------------------------------------------------

def test_officer_filters_sorts_pages_and_exports_the_filter(client):
    _officer(client)
    today = client.get("/")
    assert today.status_code == 200 and "New since the last run" in today.text and "By check" in today.text
    everything = _csv_rows(client.get("/exceptions/export.csv"))
    check = everything[0]["check_id"]
    page = client.get(f"/exceptions?check={check}&sort=severity&dir=desc")
    expected = [r for r in everything if r["check_id"] == check]
    assert f"{len(expected)} matching" in page.text
    exported = _csv_rows(client.get(f"/exceptions/export.csv?check={check}"))
    assert {r["exception_id"] for r in exported} == {r["exception_id"] for r in expected}
    xlsx = client.get(f"/exceptions/export.xlsx?check={check}")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    second = client.get("/exceptions?page=2")
    assert second.status_code == 200 and "Page 2 of" in second.text


def test_gp_practice_user_sees_only_that_practice(client, web_store):
    _db, found = web_store
    (practice, own_child), (other_practice, other_child) = found[0], found[1]
    assert login(client, *GP_USER).status_code == 303
    rows = _csv_rows(client.get("/exceptions/export.csv"))
    assert rows and {(r["organisation"]) for r in rows} == {practice}
    assert "person_id" not in rows[0]  # a GP gets its own record ids, never the LA child id
    assert all(r["agency_record_ids"] for r in rows)
    assert client.get(f"/children/{own_child}").status_code == 200
    assert client.get(f"/children/{other_child}").status_code == 404
    assert client.get(f"/exceptions/export.csv?org={other_practice}").status_code == 404
    assert client.get(f"/exceptions/export.xlsx?agency=SOCIAL_CARE").status_code == 404
    assert client.get("/matches").status_code == 404
    page = client.get(f"/exceptions?org={other_practice}")
    assert "0 matching" in page.text


def test_other_agencies_rows_and_ids_are_404_for_an_agency_user(client, web_store):
    db, _ = web_store
    snapshot = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    social_care = snapshot.execute("SELECT exception_id FROM web_exceptions WHERE agency = 'SOCIAL_CARE' LIMIT 1").fetchone()[0]
    snapshot.close()
    login(client, *GP_USER)
    assert client.get(f"/exceptions/{social_care}").status_code == 404
    token = csrf_of(client.get("/exceptions").text)
    refused = client.post(f"/exceptions/{social_care}/review", data={"review_status": "IN_HAND", "csrf_token": token})
    assert refused.status_code == 404


def test_a_post_without_the_csrf_token_is_refused(client, web_store):
    db, _ = web_store
    _officer(client)
    exception_id = _csv_rows(client.get("/exceptions/export.csv"))[0]["exception_id"]
    ws = connect_workspace(workspace_path(db))
    before = ws.execute("SELECT count(*) FROM reviews").fetchone()[0]
    for data in ({"review_status": "IN_HAND", "review_note": "no token"},
                 {"review_status": "IN_HAND", "review_note": "forged", "csrf_token": "forged"}):
        assert client.post(f"/exceptions/{exception_id}/review", data=data).status_code == 403
    assert client.post("/login", data={"username": OFFICER[0], "password": OFFICER[1]}).status_code == 403
    assert ws.execute("SELECT count(*) FROM reviews").fetchone()[0] == before


def test_access_log_names_user_and_route_but_no_ids_or_search_text(client, web_store):
    db, found = web_store
    _officer(client)
    child = found[0][1]
    client.get(f"/children/{child}")
    client.get("/exceptions?q=Morgan&check=GP_NOT_INVITED")
    ws = connect_workspace(workspace_path(db))
    log = [dict(r) for r in ws.execute("SELECT * FROM access_log WHERE username = ?", (OFFICER[0],)).fetchall()]
    routes = {r["route"] for r in log}
    assert "/children/{person_id}" in routes and "/exceptions" in routes
    text = json.dumps(log)
    assert child not in text and "Morgan" not in text and "GP_NOT_INVITED" not in text
    assert any(r["filters"] == json.dumps(["check", "q"]) for r in log)


# -- reviews and the nightly -------------------------------------------------------------------

def _review(client, exception_id: str, status: str, note: str):
    token = csrf_of(client.get(f"/exceptions/{exception_id}").text)
    return client.post(f"/exceptions/{exception_id}/review",
                       data={"review_status": status, "review_note": note, "csrf_token": token,
                             "assign": "1", "assignee": "bob"})


NIGHTLY = """
import sys
from datetime import date
from pathlib import Path
from caseflags.config import load_config
from caseflags.runbook import run_without_prefect
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.store.database import connect
from caseflags.store.locking import store_lock
db = Path(sys.argv[1])
with store_lock(db):
    con = connect(db)
    try:
        run_without_prefect(con, SAMPLE_DELIVERY, date.fromisoformat(sys.argv[2]), db.parent / "reports", load_config(), db_path=db)
    finally:
        con.close()
"""


def start_nightly(db: Path, as_at: date) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", NIGHTLY, str(db), as_at.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_review_saved_while_the_nightly_runs_is_kept_and_carried(sample_run, tmp_path):
    db = copy_store(sample_run, tmp_path)
    add_users(db, practices(db)[0][0])
    with TestClient(create_app(Settings(db_path=db))) as c:
        _officer(c)
        rows = _csv_rows(c.get("/exceptions/export.csv"))
        before_night, during_night = rows[0]["exception_id"], rows[1]["exception_id"]
        assert _review(c, before_night, "IN_HAND", "passed to the school").status_code == 200
        nightly = start_nightly(db, NEXT_NIGHT)
        try:
            deadline = time.monotonic() + 60
            while not nightly_running(db) and nightly.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert nightly_running(db), "the nightly should hold the store's run lock"
            # The store is being written by another process: pages come from the snapshot and say so.
            page = c.get(f"/exceptions/{during_night}")
            assert page.status_code == 200 and "The nightly is running" in page.text
            assert _review(c, during_night, "FALSE_POSITIVE", "the plan was held; data late").status_code == 200
            assert "the plan was held; data late" in c.get(f"/exceptions/{during_night}").text
        finally:
            output, _ = nightly.communicate(timeout=600)
        assert nightly.returncode == 0, output
        # The next snapshot is the new night; the review saved before the night is in it, from the store.
        assert c.get("/healthz").json()["snapshot"]["as_at"] == NEXT_NIGHT.isoformat()
        assert "passed to the school" in c.get(f"/exceptions/{before_night}").text
    con = duckdb.connect(str(db))
    try:
        carry_web_reviews(con)  # what the following night does first; carries only what is left
        assert carry_web_reviews(con) == 0
        carried = dict(con.execute(
            "SELECT exception_id, review_note FROM annotations WHERE source_file = 'caseflags web'").fetchall())
        assert carried == {before_night: "passed to the school", during_night: "the plan was held; data late"}
        current = dict(con.execute(
            "SELECT exception_id, review_status FROM exceptions_current WHERE exception_id IN (?, ?)",
            [before_night, during_night]).fetchall())
        assert current[before_night] == "IN_HAND"
        reviewers = {r[0] for r in con.execute("SELECT reviewer FROM web_reviews_carried").fetchall()}
        assert reviewers == {OFFICER[0]}
    finally:
        con.close()


def test_bulk_review_of_a_filtered_set(client, web_store):
    db, _ = web_store
    _officer(client)
    rows = _csv_rows(client.get("/exceptions/export.csv?severity=LOW"))
    assert rows
    token = csrf_of(client.get("/exceptions?severity=LOW").text)
    saved = client.post("/exceptions/bulk-review", data={
        "csrf_token": token, "apply_to": "all", "filter_query": "severity=LOW",
        "review_status": "ACCEPTED_RISK", "review_note": "agreed at the partnership meeting"})
    assert saved.status_code == 200
    after = _csv_rows(client.get("/exceptions/export.csv?severity=LOW"))
    assert {r["review_status"] for r in after} == {"ACCEPTED_RISK"}
    ws = connect_workspace(workspace_path(db))
    bulk_ids = {r[0] for r in ws.execute("SELECT bulk_id FROM reviews WHERE review_note = ?",
                                        ("agreed at the partnership meeting",)).fetchall()}
    assert len(bulk_ids) == 1 and (None not in bulk_ids or len(rows) == 1)


def test_organisation_folders_carry_the_agency_own_identifiers(sample_run):
    _db, run_dir, _record = sample_run
    gp_folders = [p for p in (run_dir / "agencies" / "GP").iterdir() if p.is_dir()]
    school_folders = [p for p in (run_dir / "agencies" / "EDUCATION").iterdir() if p.is_dir()]
    assert gp_folders and school_folders
    for folder in gp_folders + school_folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "exceptions.csv").stat().st_mode) == 0o600
        assert (folder / "exceptions.xlsx").exists()
    gp_rows = list(csv.DictReader((gp_folders[0] / "exceptions.csv").open()))
    assert "person_id" not in gp_rows[0] and {r["practice_code"] for r in gp_rows} == {gp_folders[0].name}
    assert all(r["agency_record_ids"] and r["nhs_number"] for r in gp_rows)
    school_rows = list(csv.DictReader((school_folders[0] / "exceptions.csv").open()))
    assert {r["school_urn"] for r in school_rows} == {school_folders[0].name}
    assert any(r["upn"] for r in school_rows)


def test_audit_page_shows_the_drawn_sample_with_reasons(web_store, tmp_path):
    db, _ = web_store
    drawn = CliRunner().invoke(cli_app, ["sample", "--db", str(db), "--as-at", "2026-11-24", "--seed", "3",
                                         "--size", "4", "--out", str(tmp_path)])
    assert drawn.exit_code == 0, drawn.output
    sample_id = re.search(r"^sample (\S+) \(seed", drawn.output, re.MULTILINE).group(1)
    with TestClient(create_app(Settings(db_path=db))) as c:
        _officer(c)
        page = c.get("/audit")
        assert page.status_code == 200 and f"Sample {sample_id}" in page.text
        con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
        children = con.execute("SELECT person_id, reasons FROM audit_sample_children WHERE sample_id = ?", [sample_id]).fetchall()
        con.close()
        assert children and all(f'href="/children/{person}"' in page.text for person, _ in children)
        login(c, *GP_USER)
        assert c.get("/audit").status_code == 404


def test_link_decisions_are_recorded_with_the_officer_and_carried_before_linkage(web_store, tmp_path):
    db, _ = web_store
    with TestClient(create_app(Settings(db_path=db))) as c:
        _officer(c)
        page = c.get("/matches")
        assert page.status_code == 200
        snapshot = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
        pair = snapshot.execute("SELECT agency, agency_record_id, person_id FROM link_candidates LIMIT 1").fetchall()
        snapshot.close()
        if not pair:
            pytest.skip("the sample run proposed no possible match")
        agency, record, person = pair[0]
        assert "differ" in page.text or "agree" in page.text
        token = csrf_of(page.text)
        decided = c.post("/matches/decide", data={"csrf_token": token, "agency": agency, "agency_record_id": record,
                                                  "person_id": person, "decision": "REJECTED", "note": "different DOB"})
        assert decided.status_code == 200 and f"Different children (rejected) by {OFFICER[0]}" in decided.text
        unknown = c.post("/matches/decide", data={"csrf_token": token, "agency": agency, "agency_record_id": "NOPE",
                                                  "person_id": person, "decision": "CONFIRMED"})
        assert unknown.status_code == 404
    copy = tmp_path / "store.duckdb"
    shutil.copy2(db, copy)
    source, target = connect_workspace(workspace_path(db)), connect_workspace(workspace_path(copy))
    source.backup(target)  # the WAL's content too, which a file copy would miss
    source.close()
    target.close()
    con = duckdb.connect(str(copy))
    try:
        assert carry_link_decisions(con) >= 1
        assert carry_link_decisions(con) == 0
        rows = con.execute("SELECT decision, decided_by, note FROM link_decisions WHERE agency_record_id = ?", [record]).fetchall()
        assert rows[-1] == ("REJECTED", OFFICER[0], "different DOB")
    finally:
        con.close()


def test_child_events_are_the_audit_chronology(web_store):
    """The Child page's per-source chronology gives exactly the audit pack's events, in order."""
    db, _ = web_store
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    try:
        children = [r[0] for r in con.execute(
            "SELECT person_id FROM web_exceptions WHERE person_id IS NOT NULL GROUP BY person_id "
            "ORDER BY count(*) DESC, person_id LIMIT 5").fetchall()]
        as_at = date(2026, 11, 24)
        for person in children:
            events = child_events(con, person, as_at)
            assert events == build_chronology(con, person, as_at)
        assert any(child_events(con, person, as_at) for person in children)
    finally:
        con.close()


def test_first_start_publishes_a_snapshot_unless_a_run_holds_the_store(sample_run, tmp_path):
    db = tmp_path / "store.duckdb"
    shutil.copy2(sample_run[0], db)
    with store_lock(db):  # a nightly is running: the web starts without data and says why
        locked = create_app(Settings(db_path=db))
        assert "nightly is running" in locked.state.ctx.startup_problem
        assert not db.with_suffix(".snapshot.duckdb").exists()
        with TestClient(locked) as c:
            assert c.get("/healthz").json() == {"status": "ok", "snapshot": None, "nightly_running": True}
    app = create_app(Settings(db_path=db))
    assert app.state.ctx.startup_problem is None
    assert stat.S_IMODE(db.with_suffix(".snapshot.duckdb").stat().st_mode) == 0o600
    with TestClient(app) as c:
        assert c.get("/healthz").json()["snapshot"]["as_at"] == "2026-11-24"
