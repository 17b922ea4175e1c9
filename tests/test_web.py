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
from web_helpers import GP_USER, OFFICER, add_users, copy_store, csrf_of, login, practices

from caseflags.audit.chronology import build_chronology
from caseflags.cli import app as cli_app
from caseflags.config import ConfigError
from caseflags.store.locking import store_lock
from caseflags.web import accounts
from caseflags.web.app import Settings, create_app
from caseflags.web.queries import child_events
from caseflags.web.snapshot import nightly_running
from caseflags.workspace.carry import carry_link_decisions, carry_web_reviews
from caseflags.workspace.database import connect_workspace, workspace_path

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


def test_passwords_are_argon2_hashes(tmp_path):
    ws = connect_workspace(tmp_path / "w.web.sqlite")
    accounts.add_user(ws, "ann", "correct horse battery", "officer", None, None)
    stored = ws.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert accounts.authenticate(ws, "ann", "correct horse battery", "10.0.0.1", now=1000.0).username == "ann"
    with pytest.raises(accounts.AccountError):
        accounts.add_user(ws, "gp", "long enough pw", "agency", None, None)  # an agency user needs an agency
    assert stat.S_IMODE(os.stat(tmp_path / "w.web.sqlite").st_mode) == 0o600


# Dozens of password checks (argon2 is slow by design): the full suite, not the fast tier.
@pytest.mark.slow
def test_the_throttle_backs_off_one_name_from_one_address_only(tmp_path):
    ws = connect_workspace(tmp_path / "w.web.sqlite")
    accounts.add_user(ws, "ann", "correct horse battery", "officer", None, None)
    accounts.add_user(ws, "bob", "bob's long password", "officer", None, None)
    office = "10.0.0.2"
    for attempt in range(accounts.FREE_FAILURES):  # ann mistypes, several times, from the office proxy
        assert accounts.authenticate(ws, "ann", f"wrong {attempt}", office, now=1000.0) is None
    with pytest.raises(accounts.LoginRefused) as refused:  # the pair waits, even with the right password
        accounts.authenticate(ws, "ann", "correct horse battery", office, now=1000.5)
    assert refused.value.retry_after == 2  # BACKOFF_BASE_SECONDS after the last failure
    # A colleague behind the same address is not locked out by ann's typos ...
    assert accounts.authenticate(ws, "bob", "bob's long password", office, now=1000.5).username == "bob"
    # ... and nobody elsewhere typing ann's name locks ann out: her own address is untouched.
    for attempt in range(20):
        assert accounts.authenticate(ws, "ann", f"guess {attempt}", "203.0.113.9", now=1001.0 + 3600 * attempt) is None
    assert accounts.authenticate(ws, "ann", "correct horse battery", "10.0.0.3", now=1001.0).username == "ann"
    # Backoff doubles per failure of the pair.
    assert accounts.authenticate(ws, "ann", "wrong again", office, now=1003.0) is None  # 4th failure, at t=1003
    with pytest.raises(accounts.LoginRefused) as refused:
        accounts.authenticate(ws, "ann", "correct horse battery", office, now=1004.0)
    assert refused.value.retry_after == 3  # 4 s after 1003
    assert accounts.authenticate(ws, "ann", "correct horse battery", office, now=1007.5).username == "ann"
    # A success forgets the pair's failures.
    assert accounts.authenticate(ws, "ann", "typo", office, now=1008.0) is None
    assert accounts.authenticate(ws, "ann", "correct horse battery", office, now=1008.0).username == "ann"


# Dozens of password checks (argon2 is slow by design): the full suite, not the fast tier.
@pytest.mark.slow
def test_the_throttle_caps_a_password_spray_across_names_from_one_address(tmp_path):
    ws = connect_workspace(tmp_path / "w.web.sqlite")
    accounts.add_user(ws, "ann", "correct horse battery", "officer", None, None)
    sprayer = "198.51.100.7"
    for n in range(accounts.ADDRESS_MAX_FAILURES):
        assert accounts.authenticate(ws, f"user{n}", "Winter2026!", sprayer, now=5000.0 + n) is None
    with pytest.raises(accounts.LoginRefused) as refused:  # a new name from the same address: refused
        accounts.authenticate(ws, "ann", "Winter2026!", sprayer, now=5000.0 + accounts.ADDRESS_MAX_FAILURES)
    assert refused.value.retry_after == accounts.ADDRESS_WINDOW_SECONDS - accounts.ADDRESS_MAX_FAILURES
    assert accounts.authenticate(ws, "ann", "correct horse battery", "10.0.0.3", now=5040.0).username == "ann"
    later = 5000.0 + accounts.ADDRESS_WINDOW_SECONDS + 1  # the oldest failure has left the window
    assert accounts.authenticate(ws, "ann", "Winter2026!", sprayer, now=later) is None


def _store_with_school(db: Path, urn: str) -> None:
    from test_users_scope import store_knowing

    store_knowing(db, school_urn=urn)


def test_users_commands_read_the_password_from_standard_input(tmp_path):
    db = tmp_path / "store.duckdb"
    _store_with_school(db, "109397")  # an organisation is checked against the store (issue 27)
    runner = CliRunner()
    added = runner.invoke(
        cli_app,
        ["users", "add", "sch1", "--role", "agency", "--agency", "EDUCATION", "--org", "109397", "--db", str(db)],
        input="school-password-1\n",
    )
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


def _sessions_of(db, username: str) -> int:
    ws = connect_workspace(workspace_path(db))
    try:
        return ws.execute("SELECT count(*) FROM web_sessions WHERE username = ?", (username,)).fetchone()[0]
    finally:
        ws.close()


def test_a_disabled_user_or_a_new_password_ends_the_session(web_store):
    db, _ = web_store
    ws = connect_workspace(workspace_path(db))
    accounts.add_user(ws, "temp.officer", "temporary-pass-1", "officer", None, None)
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert login(c, "temp.officer", "temporary-pass-1").status_code == 303
        assert c.get("/exceptions").status_code == 200 and _sessions_of(db, "temp.officer") == 1
        accounts.set_password(ws, "temp.officer", "temporary-pass-2")
        assert _sessions_of(db, "temp.officer") == 0  # ended at once, in the workspace database
        assert c.get("/exceptions", follow_redirects=False).status_code == 303
        assert login(c, "temp.officer", "temporary-pass-2").status_code == 303
        accounts.disable_user(ws, "temp.officer")
        assert _sessions_of(db, "temp.officer") == 0
        assert c.get("/exceptions", follow_redirects=False).status_code == 303


def test_a_cookie_captured_before_logout_or_expiry_opens_nothing(web_store):
    db, _ = web_store
    app = create_app(Settings(db_path=db))
    with TestClient(app) as c:
        assert login(c, *OFFICER).status_code == 303
        captured = dict(c.cookies)
        assert c.get("/", follow_redirects=False).status_code == 200
        token = csrf_of(c.get("/exceptions").text)
        assert c.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with TestClient(app, cookies=captured) as thief:  # the same cookie, replayed after logout
        assert thief.get("/", follow_redirects=False).status_code == 303
        assert thief.get("/exceptions/export.csv", follow_redirects=False).status_code == 303
    with TestClient(app) as c:  # expiry: the row's expires_at has passed, whatever the cookie says
        assert login(c, *OFFICER).status_code == 303
        assert c.get("/", follow_redirects=False).status_code == 200
        ws = connect_workspace(workspace_path(db))
        ws.execute("UPDATE web_sessions SET expires_at = 0 WHERE username = ?", (OFFICER[0],))
        ws.close()
        assert c.get("/", follow_redirects=False).status_code == 303
    ws = connect_workspace(workspace_path(db))
    keys = [r[0] for r in ws.execute("SELECT session_key FROM web_sessions").fetchall()]
    ws.close()
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)  # only hashes of ids are stored


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(web_store):
    db, _ = web_store
    ws = connect_workspace(workspace_path(db))
    accounts.add_user(ws, "xff.officer", "xff-password-123", "officer", None, None)
    ws.close()

    def fail_from(c, forwarded: str):
        token = csrf_of(c.get("/login").text)
        return c.post(
            "/login",
            data={"username": "xff.officer", "password": "wrong", "csrf_token": token},
            headers={"X-Forwarded-For": forwarded},
            follow_redirects=False,
        ).status_code

    # Not configured: rotating the header from one peer (even loopback) does not make new clients.
    with TestClient(create_app(Settings(db_path=db)), client=("127.0.0.1", 5000)) as c:
        codes = [fail_from(c, f"192.0.2.{n}") for n in range(accounts.FREE_FAILURES + 1)]
    assert codes == [401] * accounts.FREE_FAILURES + [429]
    # Behind a named proxy the header's right-most untrusted hop is the client: each their own.
    settings = Settings(db_path=db, trusted_proxies=("10.9.0.0/24",))
    with TestClient(create_app(settings), client=("10.9.0.4", 5000)) as c:
        codes = [fail_from(c, f"spoofed, 192.0.2.{100 + n}") for n in range(accounts.FREE_FAILURES + 1)]
        assert codes == [401] * (accounts.FREE_FAILURES + 1)
        codes = [fail_from(c, "192.0.2.200, 10.9.0.7") for _ in range(accounts.FREE_FAILURES + 1)]
        assert codes[-1] == 429  # the same client through two proxies of the list
    with pytest.raises(ConfigError, match="trusted_proxies"):
        create_app(Settings(db_path=db, trusted_proxies=("not-an-address",)))


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
    assert client.get("/exceptions/export.xlsx?agency=SOCIAL_CARE").status_code == 404
    assert client.get("/matches").status_code == 404
    page = client.get(f"/exceptions?org={other_practice}")
    assert "0 matching" in page.text


def test_other_agencies_rows_and_ids_are_404_for_an_agency_user(client, web_store):
    db, _ = web_store
    snapshot = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    social_care = snapshot.execute(
        "SELECT exception_id FROM web_exceptions WHERE agency = 'SOCIAL_CARE' LIMIT 1"
    ).fetchone()[0]
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
    for data in (
        {"review_status": "IN_HAND", "review_note": "no token"},
        {"review_status": "IN_HAND", "review_note": "forged", "csrf_token": "forged"},
    ):
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
    return client.post(
        f"/exceptions/{exception_id}/review",
        data={"review_status": status, "review_note": note, "csrf_token": token, "assign": "1", "assignee": OFFICER[0]},
    )


NIGHTLY = """
import sys
from datetime import date
from pathlib import Path
from caseflags.settings import load_config
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
    return subprocess.Popen(
        [sys.executable, "-c", NIGHTLY, str(db), as_at.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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
        carried = dict(
            con.execute(
                "SELECT exception_id, review_note FROM annotations WHERE source_file = 'caseflags web'"
            ).fetchall()
        )
        assert carried == {before_night: "passed to the school", during_night: "the plan was held; data late"}
        current = dict(
            con.execute(
                "SELECT exception_id, review_status FROM exceptions_current WHERE exception_id IN (?, ?)",
                [before_night, during_night],
            ).fetchall()
        )
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
    form = {
        "csrf_token": token,
        "apply_to": "all",
        "filter_query": "severity=LOW",
        "review_status": "ACCEPTED_RISK",
        "review_note": "agreed at the partnership meeting",
    }
    asked = client.post("/exceptions/bulk-review", data=form)
    assert asked.status_code == 200 and f'data-testid="bulk-count">{len(rows)}<' in asked.text
    assert {r["review_status"] for r in _csv_rows(client.get("/exceptions/export.csv?severity=LOW"))} != {
        "ACCEPTED_RISK"
    }
    wrong = client.post("/exceptions/bulk-review", data={**form, "confirm_count": str(len(rows) + 1)})
    assert wrong.status_code == 200 and 'data-testid="bulk-confirm"' in wrong.text  # asked again, with the count
    saved = client.post("/exceptions/bulk-review", data={**form, "confirm_count": str(len(rows))})
    assert saved.status_code == 200 and "Exceptions" in saved.text
    after = _csv_rows(client.get("/exceptions/export.csv?severity=LOW"))
    assert {r["review_status"] for r in after} == {"ACCEPTED_RISK"}
    ws = connect_workspace(workspace_path(db))
    bulk_ids = {
        r[0]
        for r in ws.execute(
            "SELECT bulk_id FROM reviews WHERE review_note = ?", ("agreed at the partnership meeting",)
        ).fetchall()
    }
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
    drawn = CliRunner().invoke(
        cli_app,
        ["sample", "--db", str(db), "--as-at", "2026-11-24", "--seed", "3", "--size", "4", "--out", str(tmp_path)],
    )
    assert drawn.exit_code == 0, drawn.output
    sample_id = re.search(r"^sample (\S+) \(seed", drawn.output, re.MULTILINE).group(1)
    with TestClient(create_app(Settings(db_path=db))) as c:
        _officer(c)
        page = c.get("/audit")
        assert page.status_code == 200 and f"Sample {sample_id}" in page.text
        con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
        children = con.execute(
            "SELECT person_id, reasons FROM audit_sample_children WHERE sample_id = ?", [sample_id]
        ).fetchall()
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
        decided = c.post(
            "/matches/decide",
            data={
                "csrf_token": token,
                "agency": agency,
                "agency_record_id": record,
                "person_id": person,
                "decision": "REJECTED",
                "note": "different DOB",
            },
        )
        assert decided.status_code == 200 and f"Different children (rejected) by {OFFICER[0]}" in decided.text
        unknown = c.post(
            "/matches/decide",
            data={
                "csrf_token": token,
                "agency": agency,
                "agency_record_id": "NOPE",
                "person_id": person,
                "decision": "CONFIRMED",
            },
        )
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
        rows = con.execute(
            "SELECT decision, decided_by, note FROM link_decisions WHERE agency_record_id = ?", [record]
        ).fetchall()
        assert rows[-1] == ("REJECTED", OFFICER[0], "different DOB")
    finally:
        con.close()


def test_child_events_are_the_audit_chronology(web_store):
    """The Child page's per-source chronology gives exactly the audit pack's events, in order."""
    db, _ = web_store
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    try:
        children = [
            r[0]
            for r in con.execute(
                "SELECT person_id FROM web_exceptions WHERE person_id IS NOT NULL GROUP BY person_id "
                "ORDER BY count(*) DESC, person_id LIMIT 5"
            ).fetchall()
        ]
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


# -- issue 27: workspace hardening -------------------------------------------------------------


@pytest.mark.parametrize("sort", ["child", "organisation", "assignee", "agency", "priority"])
def test_every_sort_descending_works_on_the_page_and_in_the_export(client, sort):
    _officer(client)
    page = client.get(f"/exceptions?sort={sort}&dir=desc")
    assert page.status_code == 200
    exported = client.get(f"/exceptions/export.csv?sort={sort}&dir=desc")
    assert exported.status_code == 200
    if sort == "child":  # descending, and rows without a child stay last
        ids = [r["person_id"] for r in _csv_rows(exported)]
        present = [i for i in ids if i]
        assert present == sorted(present, reverse=True) and ids == present + [""] * (len(ids) - len(present))


def test_a_deep_link_comes_back_after_login_and_next_is_local_only(client):
    wanted = "/exceptions?severity=HIGH&sort=child&dir=desc"
    first = client.get(wanted, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    login_page = client.get(first.headers["location"])
    token = csrf_of(login_page.text)
    assert 'name="next" value="/exceptions?severity=HIGH&amp;sort=child&amp;dir=desc"' in login_page.text
    done = client.post(
        "/login",
        data={"username": OFFICER[0], "password": OFFICER[1], "csrf_token": token, "next": wanted},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == wanted
    for hostile in (
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x",
        "\\\\evil.example",
        " /exceptions",
        "/login?next=//evil.example",
    ):
        token = csrf_of(client.get("/login").text)
        done = client.post(
            "/login",
            data={"username": OFFICER[0], "password": OFFICER[1], "csrf_token": token, "next": hostile},
            follow_redirects=False,
        )
        assert done.headers["location"] in ("/", "/%0d%0aSet-Cookie:x"), hostile


def _expire_sessions(db, username: str) -> None:
    ws = connect_workspace(workspace_path(db))
    ws.execute("UPDATE web_sessions SET expires_at = 0 WHERE username = ?", (username,))
    ws.close()


def test_a_review_posted_after_the_session_expired_is_offered_again_after_login(client, web_store):
    db, _ = web_store
    _officer(client)
    exception_id = _csv_rows(client.get("/exceptions/export.csv"))[0]["exception_id"]
    token = csrf_of(client.get(f"/exceptions/{exception_id}").text)
    ws = connect_workspace(workspace_path(db))
    before = ws.execute("SELECT count(*) FROM reviews").fetchone()[0]
    _expire_sessions(db, OFFICER[0])
    note = "Spoke to the school's DSL at length; plan agreed & <b>minuted</b>"
    posted = client.post(
        f"/exceptions/{exception_id}/review",
        follow_redirects=False,
        data={"review_status": "IN_HAND", "review_note": note, "csrf_token": token},
    )
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert location.startswith("/login?") and "resume=" in location
    login_page = client.get(location)
    assert 'data-testid="resume-notice"' in login_page.text
    fields = dict(re.findall(r'<input type="hidden" name="(next|resume)" value="([^"]+)"', login_page.text))
    done = client.post(
        "/login",
        follow_redirects=False,
        data={"username": OFFICER[0], "password": OFFICER[1], "csrf_token": csrf_of(login_page.text), **fields},
    )
    assert done.headers["location"].startswith(f"/exceptions/{exception_id}?resume=")
    with TestClient(client.app) as other:  # the link alone, in another browser, shows nothing typed
        _officer(other)
        assert 'data-testid="resumed"' not in other.get(done.headers["location"]).text
    page = client.get(done.headers["location"])
    assert 'data-testid="resumed"' in page.text and "minuted" in page.text and "&lt;b&gt;minuted" in page.text
    assert ws.execute("SELECT count(*) FROM reviews").fetchone()[0] == before  # offered, not applied unasked
    again = client.get(done.headers["location"])
    assert 'data-testid="resumed"' not in again.text  # taken once
    ws.close()


def test_review_form_traps(client, web_store):
    db, _ = web_store
    _officer(client)
    rows = _csv_rows(client.get("/exceptions/export.csv"))
    high = next(r["exception_id"] for r in rows if r["severity"] == "HIGH")
    other = next(r["exception_id"] for r in rows if r["severity"] != "HIGH")
    social_care = next(r["exception_id"] for r in rows if r["agency"] == "SOCIAL_CARE")
    ws = connect_workspace(workspace_path(db))
    if accounts.get_user(ws, "gone.officer") is None:
        accounts.add_user(ws, "gone.officer", "gone-password-1", "officer", None, None)
        accounts.disable_user(ws, "gone.officer")

    def post(exception_id, **form):
        token = csrf_of(client.get(f"/exceptions/{exception_id}").text)
        return client.post(
            f"/exceptions/{exception_id}/review", data={"csrf_token": token, **form}, follow_redirects=False
        )

    def assignee_of(exception_id):
        row = ws.execute(
            "SELECT assignee FROM assignments WHERE exception_id = ? ORDER BY assignment_id DESC LIMIT 1",
            (exception_id,),
        ).fetchone()
        return row[0] if row else None

    for status in ("ACCEPTED_RISK", "FALSE_POSITIVE"):  # a HIGH exception closed without saying why
        refused = post(high, review_status=status, review_note="  ")
        assert refused.status_code == 400 and "needs a note" in refused.text
    assert post(high, review_status="ACCEPTED_RISK", review_note="agreed with the DSL").status_code == 303
    assert post(other, review_status="FALSE_POSITIVE", review_note="").status_code == 303  # not HIGH: no note needed
    # An unknown or disabled assignee is refused, and the page keeps what was typed.
    refused = post(other, review_status="IN_HAND", review_note="keep this note", assignee="nosuchuser", assign="1")
    assert refused.status_code == 400 and "no user" in refused.text and "keep this note" in refused.text
    assert post(other, review_status="IN_HAND", assignee="gone.officer", assign="1").status_code == 400
    # A GP user cannot be given a social-care exception (they could not see it).
    refused = post(social_care, review_status="IN_HAND", assignee=GP_USER[0], assign="1")
    assert refused.status_code == 400 and "cannot see" in refused.text
    # A name typed without the tick box is applied, not dropped.
    assert post(other, review_status="IN_HAND", assignee=OFFICER[0], assignee_was="").status_code == 303
    assert assignee_of(other) == OFFICER[0]
    assert post(other, review_status="IN_HAND", assignee="", assignee_was=OFFICER[0]).status_code == 303
    assert assignee_of(other) is None  # emptied: unassigned
    ws.close()


def _body_limited(app_, headers, chunks):
    """Drive the ASGI app directly with a streamed body; returns (status, chunks pulled)."""
    import asyncio

    pulled = 0
    sent = []

    async def receive():
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app_(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), pulled


class _LazyChunks:
    """1 GiB in 64 KiB chunks, made only when pulled."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return b"a" * 65536


def test_request_bodies_are_capped_before_they_are_read(web_store):
    from caseflags.web.app import MAX_BODY_BYTES

    db, _ = web_store
    app_ = create_app(Settings(db_path=db))
    gigabyte = _LazyChunks(16384)
    status, pulled = _body_limited(app_, [(b"content-length", str(2**30).encode())], gigabyte)
    assert (status, pulled) == (413, 0)  # refused on its Content-Length, not a byte read
    status, pulled = _body_limited(app_, [(b"transfer-encoding", b"chunked")], gigabyte)
    assert status == 413 and pulled == MAX_BODY_BYTES // 65536 + 1  # counted as it streams, stopped at the cap
    with TestClient(app_) as c:
        assert c.post("/login", content=b"x" * (MAX_BODY_BYTES + 1)).status_code == 413
        assert c.post("/login", data={"username": "a", "password": "b"}).status_code == 403  # small: read as usual


def test_a_bulk_review_posted_after_the_session_expired_comes_back_ticked(client, web_store):
    db, _ = web_store
    _officer(client)
    ids = [r["exception_id"] for r in _csv_rows(client.get("/exceptions/export.csv?severity=LOW"))][:2]
    token = csrf_of(client.get("/exceptions?severity=LOW").text)
    _expire_sessions(db, OFFICER[0])
    posted = client.post(
        "/exceptions/bulk-review",
        follow_redirects=False,
        data={
            "csrf_token": token,
            "apply_to": "selected",
            "filter_query": "severity=LOW",
            "ids": ids,
            "review_status": "IN_HAND",
            "review_note": "chased both schools",
        },
    )
    login_page = client.get(posted.headers["location"])
    fields = dict(re.findall(r'<input type="hidden" name="(next|resume)" value="([^"]+)"', login_page.text))
    assert fields["next"] == "/exceptions?severity=LOW"
    done = client.post(
        "/login",
        follow_redirects=False,
        data={"username": OFFICER[0], "password": OFFICER[1], "csrf_token": csrf_of(login_page.text), **fields},
    )
    page = client.get(done.headers["location"]).text
    assert 'value="chased both schools"' in page and "<option selected>IN_HAND</option>" in page
    ticked = re.findall(r'name="ids" value="([^"]+)"[^>]*checked', page)
    assert set(ticked) == set(ids) & set(re.findall(r'name="ids" value="([^"]+)"', page))
