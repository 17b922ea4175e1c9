"""The Audit sample pages of the workspace, without a browser: draw, packs, outcomes, audit dates,
scope and CSRF, and the nightly carrying it all into the store's audit tables.

The browser flow is in test_web_browser.py.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import duckdb
import fastexcel
import pytest
import xlsxwriter
from starlette.testclient import TestClient
from test_review_import import edit_cells, find_row
from typer.testing import CliRunner
from web_helpers import GP_USER, OFFICER, add_users, copy_store, csrf_of, login, practices

from caseflags.audit.model import OUTCOME_COLUMNS, result_from_json, result_to_json
from caseflags.audit.sampling import choose_sample
from caseflags.cli import app as cli_app
from caseflags.outputs.snapshot import publish_snapshot
from caseflags.runbook import run_without_prefect
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.settings import load_config
from caseflags.store.database import connect
from caseflags.web import audit
from caseflags.web.app import Settings, create_app
from caseflags.workspace.carry_audit import carry_web_audit
from caseflags.workspace.database import connect_workspace, utc_now, workspace_path

AS_AT = date(2026, 11, 24)
NEXT_NIGHT = date(2026, 11, 25)


@pytest.fixture
def store(sample_run, tmp_path):
    db = copy_store(sample_run, tmp_path)
    add_users(db, practices(db)[0][0])
    return db


def _officer(client):
    assert login(client, *OFFICER).status_code == 303
    return csrf_of(client.get("/audit").text)


def _draw(client, token: str, size: int, seed: int | None) -> str:
    drawn = client.post(
        "/audit/draw",
        data={"csrf_token": token, "size": str(size), "seed": "" if seed is None else str(seed)},
        follow_redirects=False,
    )
    assert drawn.status_code == 303, drawn.text
    return drawn.headers["location"].split("drawn=", 1)[1]


def _workspace_rows(db: Path, sql: str, params=()) -> list[dict]:
    ws = connect_workspace(workspace_path(db))
    try:
        return [dict(r) for r in ws.execute(sql, params).fetchall()]
    finally:
        ws.close()


def _flagged_child(db: Path, sample_id: str) -> tuple[str, str]:
    row = _workspace_rows(
        db,
        "SELECT person_id, check_id FROM audit_sample_concerns WHERE sample_id = ? "
        "ORDER BY person_id, check_id LIMIT 1",
        (sample_id,),
    )[0]
    return row["person_id"], row["check_id"]


def test_draw_open_pack_record_outcome_and_the_nightly_carries_them(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 4, 3)
        page = c.get("/audit")
        assert f"Sample {sample_id}" in page.text and f"drawn by {OFFICER[0]}" in page.text
        children = _workspace_rows(
            store, "SELECT person_id, reasons FROM audit_sample_children WHERE sample_id = ?", (sample_id,)
        )
        assert len(children) == 4 and all(c_["reasons"] for c_ in children)
        for child in children:  # reasons shown, each child's pack linked
            assert f'href="/audit/{sample_id}/children/{child["person_id"]}"' in page.text
            assert child["reasons"].split("\n")[0] in page.text

        person, check = _flagged_child(store, sample_id)
        pack = c.get(f"/audit/{sample_id}/children/{person}")
        assert pack.status_code == 200
        assert f"Multi-agency audit pack: child {person}" in pack.text and "Why this child was chosen" in pack.text
        download = c.get(f"/audit/{sample_id}/children/{person}/pack.html")
        assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
        assert download.text.startswith("<!DOCTYPE html>") and "<style>" in download.text

        for outcome, note in (("NOT_A_CONCERN", "first look"), ("CONFIRMED", "seen in the school file")):
            saved = c.post(
                f"/audit/{sample_id}/children/{person}/outcome",
                data={"csrf_token": token, "check_id": check, "outcome": outcome, "note": note},
            )
            assert saved.status_code == 200 and "Outcome saved." in saved.text
        missed = c.post(
            f"/audit/{sample_id}/children/{person}/outcome",
            data={"csrf_token": token, "check_id": "GP_NOT_INVITED", "outcome": "CONFIRMED", "note": "no invite"},
        )
        assert missed.status_code == 200 or check == "GP_NOT_INVITED"
        bad = c.post(
            f"/audit/{sample_id}/children/{person}/outcome",
            data={"csrf_token": token, "check_id": check, "outcome": "MAYBE"},
        )
        assert bad.status_code == 400
        # History kept: both outcomes, with the officer's name; the latest is the one shown on /audit.
        history = _workspace_rows(
            store, "SELECT outcome, recorded_by FROM audit_outcomes WHERE check_id = ? ORDER BY outcome_id", (check,)
        )
        assert [h["outcome"] for h in history] == ["NOT_A_CONCERN", "CONFIRMED"]
        assert {h["recorded_by"] for h in history} == {OFFICER[0]}
        assert "first look" in c.get(f"/audit/{sample_id}/children/{person}").text
        assert f"{check}: CONFIRMED (seen in the school file)" in c.get("/audit").text
        marked = c.post(f"/audit/{sample_id}/mark-audited", data={"csrf_token": token, "audited_on": "2026-11-30"})
        assert marked.status_code == 200 and "audited 2026-11-30" in marked.text
        too_early = c.post(f"/audit/{sample_id}/mark-audited", data={"csrf_token": token, "audited_on": "2026-01-01"})
        assert too_early.status_code == 400

    con = connect(store)  # the next night: the outputs stage carries the workspace's audit work
    try:
        run_without_prefect(con, SAMPLE_DELIVERY, NEXT_NIGHT, store.parent / "reports", load_config(), db_path=store)
        assert con.execute("SELECT audited_on FROM audit_samples WHERE sample_id = ?", [sample_id]).fetchall() == [
            (date(2026, 11, 30),)
        ]
        stored_children = {
            r[0]
            for r in con.execute(
                "SELECT person_id FROM audit_sample_children WHERE sample_id = ?", [sample_id]
            ).fetchall()
        }
        assert stored_children == {c_["person_id"] for c_ in children}
        outcomes = con.execute(
            "SELECT person_id, check_id, flagged, outcome, auditor_note, source_file FROM audit_outcomes "
            "WHERE sample_id = ? ORDER BY check_id",
            [sample_id],
        ).fetchall()
        assert (person, check, True, "CONFIRMED", "seen in the school file", "caseflags web") in outcomes
        if check != "GP_NOT_INVITED":
            assert (person, "GP_NOT_INVITED", False, "CONFIRMED", "no invite", "caseflags web") in outcomes
        assert len([o for o in outcomes if o[1] == check]) == 1  # replaced, as a later import replaces
        drawn_by = con.execute(
            "SELECT drawn_by FROM web_audit_samples_carried WHERE sample_id = ?", [sample_id]
        ).fetchall()
        assert drawn_by == [(OFFICER[0],)]
        assert carry_web_audit(con) == {"samples": 0, "marks": 0, "outcomes": 0, "marks_refused": 0}
    finally:
        con.close()
    with TestClient(create_app(Settings(db_path=store))) as c:  # shown once, from store and workspace alike
        _officer(c)
        page = c.get("/audit")
        assert page.text.count(f"Sample {sample_id}") == 1
        assert page.text.count(f"{check}: CONFIRMED (seen in the school file)") == 1


def test_a_web_draw_is_the_cli_sample_for_the_same_seed_with_the_same_pack(sample_run, tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "cli").mkdir()
    web_db = copy_store(sample_run, tmp_path / "web")
    cli_db = copy_store(sample_run, tmp_path / "cli")
    add_users(web_db, practices(web_db)[0][0])
    with TestClient(create_app(Settings(db_path=web_db))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 5, 7)
        result = json.loads(_workspace_rows(web_db, "SELECT result_json FROM audit_samples")[0]["result_json"])
        person = result["children"][0]["person_id"]
        web_pack = c.get(f"/audit/{sample_id}/children/{person}/pack.html").text
    drawn = CliRunner().invoke(
        cli_app,
        [
            "sample",
            "--db",
            str(cli_db),
            "--as-at",
            AS_AT.isoformat(),
            "--seed",
            "7",
            "--size",
            "5",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    assert re.search(r"^sample (\S+) \(seed", drawn.output, re.MULTILINE).group(1) == sample_id
    con = duckdb.connect(str(cli_db), read_only=True)
    try:
        cli_children = con.execute(
            "SELECT person_id, position, role, reasons FROM audit_sample_children "
            "WHERE sample_id = ? ORDER BY position",
            [sample_id],
        ).fetchall()
        cli_concerns = con.execute(
            "SELECT person_id, check_id, severity, exception_count, exception_ids "
            "FROM audit_sample_concerns WHERE sample_id = ? ORDER BY 1, 2",
            [sample_id],
        ).fetchall()
    finally:
        con.close()
    web_children = [
        tuple(r.values())
        for r in _workspace_rows(
            web_db,
            "SELECT person_id, position, role, reasons FROM audit_sample_children WHERE sample_id = ? ORDER BY position",
            (sample_id,),
        )
    ]
    web_concerns = [
        tuple(r.values())
        for r in _workspace_rows(
            web_db,
            "SELECT person_id, check_id, severity, exception_count, exception_ids FROM audit_sample_concerns "
            "WHERE sample_id = ? ORDER BY 1, 2",
            (sample_id,),
        )
    ]
    assert web_children == cli_children and web_concerns == cli_concerns
    cli_pack = next((tmp_path / "out" / "samples" / sample_id / "packs").glob(f"{person}-*.html")).read_text()
    assert web_pack == cli_pack


def test_a_web_draw_leaves_out_children_marked_audited_in_the_workspace(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        first = _draw(c, token, 4, 3)
        assert _draw(c, token, 4, 3) == first  # same seed, same data: the same sample, saved once
        # Audited after the run's as-at date: certainly recent, left out of a draw as at that date too.
        assert (
            c.post(f"/audit/{first}/mark-audited", data={"csrf_token": token, "audited_on": "2026-11-30"}).status_code
            == 200
        )
        second = _draw(c, token, 4, 3)  # the marks are not in the store yet: still excluded
    rows = _workspace_rows(store, "SELECT sample_id, person_id FROM audit_sample_children")
    first_children = {r["person_id"] for r in rows if r["sample_id"] == first}
    second_children = {r["person_id"] for r in rows if r["sample_id"] == second}
    assert second != first and len(second_children) == 4 and not first_children & second_children
    con = duckdb.connect(str(store))  # what `caseflags sample` does first: carry, then draw from the store
    try:
        assert carry_web_audit(con)["marks"] == 1
        assert not first_children & {c.person_id for c in choose_sample(con, AS_AT, size=4, seed=3).children}
    finally:
        con.close()


def test_an_agency_user_gets_404_on_every_audit_url_and_post(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 3, 5)
        person, check = _flagged_child(store, sample_id)
        c.post("/logout", data={"csrf_token": token})
        assert login(c, *GP_USER).status_code == 303
        gp_token = csrf_of(c.get("/exceptions").text)
        for url in (
            "/audit",
            f"/audit/{sample_id}/children/{person}",
            f"/audit/{sample_id}/children/{person}/pack.html",
            "/audit/AS-NOPE/children/nobody",
        ):
            assert c.get(url).status_code == 404, url
        posts = {
            "/audit/draw": {"size": "3", "seed": "9"},
            f"/audit/{sample_id}/children/{person}/outcome": {"check_id": check, "outcome": "CONFIRMED"},
            f"/audit/{sample_id}/mark-audited": {"audited_on": "2026-11-30"},
        }
        for url, data in posts.items():
            assert c.post(url, data={**data, "csrf_token": gp_token}).status_code == 404, url
    assert len(_workspace_rows(store, "SELECT * FROM audit_samples")) == 1
    assert _workspace_rows(store, "SELECT * FROM audit_outcomes") == []
    assert _workspace_rows(store, "SELECT * FROM audit_marks") == []


def test_audit_posts_without_the_csrf_token_are_refused_and_the_log_has_no_ids(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 3, 5)
        person, check = _flagged_child(store, sample_id)
        posts = {
            "/audit/draw": {"size": "3", "seed": "9"},
            f"/audit/{sample_id}/children/{person}/outcome": {"check_id": check, "outcome": "CONFIRMED"},
            f"/audit/{sample_id}/mark-audited": {"audited_on": "2026-11-30"},
        }
        for url, data in posts.items():
            assert c.post(url, data=data).status_code == 403, url
            assert c.post(url, data={**data, "csrf_token": "forged"}).status_code == 403, url
        assert c.get(f"/audit/{sample_id}/children/AS-not-a-child").status_code == 404
        c.get(f"/audit/{sample_id}/children/{person}")
    assert len(_workspace_rows(store, "SELECT * FROM audit_samples")) == 1
    assert _workspace_rows(store, "SELECT * FROM audit_outcomes") == []
    assert _workspace_rows(store, "SELECT * FROM audit_marks") == []
    log = _workspace_rows(store, "SELECT * FROM access_log WHERE route LIKE '/audit%'")
    assert {"/audit/draw", "/audit/{sample_id}/children/{person_id}", "/audit/{sample_id}/mark-audited"} <= {
        r["route"] for r in log
    }
    text = json.dumps(log)
    assert sample_id not in text and person not in text and check not in text


def test_a_sample_round_trips_through_json(store):
    con = duckdb.connect(str(store), read_only=True)
    try:
        result = choose_sample(con, AS_AT, size=4, seed=11)
    finally:
        con.close()
    assert result_from_json(result_to_json(result)) == result


def test_sample_commands_carry_web_samples_first(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 3, 5)
        person, check = _flagged_child(store, sample_id)
        c.post(
            f"/audit/{sample_id}/children/{person}/outcome",
            data={"csrf_token": token, "check_id": check, "outcome": "NOT_A_CONCERN", "note": "known to the school"},
        )
    # A sample drawn in the browser is in the store for `caseflags sample mark-audited` at once.
    marked = CliRunner().invoke(
        cli_app, ["sample", "mark-audited", sample_id, "--on", "2026-11-26", "--db", str(store)]
    )
    assert marked.exit_code == 0, marked.output
    assert f"marked 3 children of sample {sample_id}" in marked.output
    con = duckdb.connect(str(store), read_only=True)
    try:
        assert con.execute("SELECT audited_on FROM audit_samples WHERE sample_id = ?", [sample_id]).fetchall() == [
            (date(2026, 11, 26),)
        ]
        assert con.execute(
            "SELECT outcome, auditor_note FROM audit_outcomes WHERE sample_id = ?", [sample_id]
        ).fetchall() == [("NOT_A_CONCERN", "known to the school")]
    finally:
        con.close()
    with TestClient(create_app(Settings(db_path=store))) as c:  # the command republished the snapshot
        _officer(c)
        assert "audited 2026-11-26" in c.get("/audit").text


def test_a_cli_sample_has_packs_and_outcomes_in_the_workspace_too(store, tmp_path):
    drawn = CliRunner().invoke(
        cli_app,
        [
            "sample",
            "--db",
            str(store),
            "--as-at",
            AS_AT.isoformat(),
            "--seed",
            "2",
            "--size",
            "3",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    sample_id = re.search(r"^sample (\S+) \(seed", drawn.output, re.MULTILINE).group(1)
    con = duckdb.connect(str(store), read_only=True)
    try:
        person, check = con.execute(
            "SELECT person_id, check_id FROM audit_sample_concerns WHERE sample_id = ? "
            "ORDER BY person_id, check_id LIMIT 1",
            [sample_id],
        ).fetchall()[0]
    finally:
        con.close()
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        assert "drawn with caseflags sample" in c.get("/audit").text
        pack = c.get(f"/audit/{sample_id}/children/{person}")
        assert pack.status_code == 200 and f'data-check="{check}"' in pack.text
        assert f"<strong>{check}</strong>" in pack.text.split('data-testid="pack"', 1)[1]  # its open exception
        saved = c.post(
            f"/audit/{sample_id}/children/{person}/outcome",
            data={"csrf_token": token, "check_id": check, "outcome": "CONFIRMED", "note": "agreed"},
        )
        assert saved.status_code == 200
    con = duckdb.connect(str(store))
    try:
        assert carry_web_audit(con)["outcomes"] == 1
        assert con.execute(
            "SELECT flagged, outcome, source_file FROM audit_outcomes WHERE sample_id = ?", [sample_id]
        ).fetchall() == [(True, "CONFIRMED", "caseflags web")]
    finally:
        con.close()


@pytest.fixture
def in_paris(monkeypatch):
    """The machine's local time is Paris (UTC+1 in winter), as on an officer's laptop."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _cli_sample(db: Path, out: Path, seed: int = 2, size: int = 3) -> str:
    drawn = CliRunner().invoke(
        cli_app,
        [
            "sample",
            "--db",
            str(db),
            "--as-at",
            AS_AT.isoformat(),
            "--seed",
            str(seed),
            "--size",
            str(size),
            "--out",
            str(out),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    return re.search(r"^sample (\S+) \(seed", drawn.output, re.MULTILINE).group(1)


def test_cli_imports_stamp_utc_as_the_web_does(store, sample_run, tmp_path, in_paris):
    assert time.localtime().tm_gmtoff == 3600
    sample_id = _cli_sample(store, tmp_path / "out")
    rows = (
        fastexcel.read_excel(str(tmp_path / "out" / "samples" / sample_id / "audit_sample.xlsx"))
        .load_sheet("Outcomes", dtypes="string")
        .to_arrow()
        .to_pylist()
    )
    flagged = next(r for r in rows if r["flagged"] == "Y")
    filled = tmp_path / "filled.xlsx"
    workbook = xlsxwriter.Workbook(str(filled))
    sheet = workbook.add_worksheet("Outcomes")
    sheet.write_row(0, 0, OUTCOME_COLUMNS)
    for index, row in enumerate(rows, start=1):
        if row is flagged:
            row = {**row, "outcome": "NOT_A_CONCERN"}
        sheet.write_row(index, 0, [row.get(column) or "" for column in OUTCOME_COLUMNS])
    workbook.close()

    before = utc_now()
    imported = CliRunner().invoke(cli_app, ["sample", "import-outcomes", str(filled), "--db", str(store)])
    assert imported.exit_code == 0, imported.output
    # An officer then records a later outcome in the browser: it is the newer, and shown as current.
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        url = f"/audit/{sample_id}/children/{flagged['person_id']}"
        assert (
            c.post(
                f"{url}/outcome",
                data={
                    "csrf_token": token,
                    "check_id": flagged["check_id"],
                    "outcome": "CONFIRMED",
                    "note": "later, in the browser",
                },
            ).status_code
            == 200
        )
        history = c.get(url).text.split('data-testid="outcome-history"', 1)[1]
    after = utc_now()
    assert history.index("later, in the browser") < history.index("filled.xlsx")  # newest first

    _db, run_dir, _record = sample_run  # and a review import is stamped in UTC too
    con = duckdb.connect(str(store), read_only=True)
    try:
        (recorded_at,) = con.execute(
            "SELECT recorded_at FROM audit_outcomes WHERE sample_id = ? AND source_file = ?", [sample_id, "filled.xlsx"]
        ).fetchone()
        exception_id, check_id = con.execute(
            "SELECT exception_id, check_id FROM exceptions ORDER BY as_at DESC, exception_id LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert before <= recorded_at <= after
    returned = tmp_path / "returned.xlsx"
    returned.write_bytes((run_dir / "exceptions.xlsx").read_bytes())
    edit_cells(returned, check_id, {("review_status", find_row(returned, check_id, exception_id)): "IN_HAND"})
    before = utc_now()
    reviewed = CliRunner().invoke(cli_app, ["review", "import", str(returned), "--db", str(store)])
    assert reviewed.exit_code == 0, reviewed.output
    con = duckdb.connect(str(store), read_only=True)
    try:
        (annotated_at,) = con.execute("SELECT max(annotated_at) FROM annotations").fetchone()
    finally:
        con.close()
    assert before <= annotated_at <= utc_now()


def _snapshot(db: Path):
    return duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)


def test_a_cli_correction_of_a_browser_mark_shows_and_counts_once_carried(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 4, 3)
        assert (
            c.post(
                f"/audit/{sample_id}/mark-audited", data={"csrf_token": token, "audited_on": "2026-11-30"}
            ).status_code
            == 200
        )
        assert "audited 2026-11-30" in c.get(f"/audit/{sample_id}").text  # not carried yet: the workspace's mark
    # The officer corrects the date with the CLI (which carries the browser's mark first, then republishes).
    fixed = CliRunner().invoke(cli_app, ["sample", "mark-audited", sample_id, "--on", "2026-11-25", "--db", str(store)])
    assert fixed.exit_code == 0, fixed.output
    with TestClient(create_app(Settings(db_path=store))) as c:
        _officer(c)
        page = c.get(f"/audit/{sample_id}").text
        assert "audited 2026-11-25" in page and "2026-11-30" not in page.split('name="audited_on"', 1)[0]
        listing = c.get("/audit").text.split('data-testid="all-samples"', 1)[1]
        assert "<td>2026-11-25</td>" in listing and "2026-11-30" not in listing
    ws, snap = connect_workspace(workspace_path(store)), _snapshot(store)
    try:  # the carried mark no longer counts for the draw's exclusion: the store's date does
        assert audit.marked_audited(ws, snap) == []
    finally:
        ws.close()
        snap.close()


def test_every_sample_has_a_page_and_is_listed(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        drawn = [_draw(c, token, 3, seed) for seed in range(1, 11)]
        page = c.get("/audit").text
        listing = page.split('data-testid="all-samples"', 1)[1]
        assert all(f'href="/audit/{sample_id}"' in listing for sample_id in set(drawn))
        assert page.count('data-testid="sample"') == 8
        oldest = next(s for s in drawn if f'data-sample="{s}"' not in page)
        one = c.get(f"/audit/{oldest}")
        assert one.status_code == 200 and f'data-sample="{oldest}"' in one.text
        children = _workspace_rows(
            store, "SELECT person_id, reasons FROM audit_sample_children WHERE sample_id = ?", (oldest,)
        )
        for child in children:
            assert f'href="/audit/{oldest}/children/{child["person_id"]}"' in one.text
            assert child["reasons"].split("\n")[0] in one.text
        assert f'action="/audit/{oldest}/mark-audited"' in one.text
        assert f'min="{AS_AT}" max="{utc_now().date()}"' in one.text
        assert c.get("/audit/AS-NOPE").status_code == 404


def test_a_pack_downloaded_for_a_cli_sample_is_the_cli_pack_file(store, tmp_path):
    sample_id = _cli_sample(store, tmp_path / "out", seed=7, size=5)
    packs = sorted((tmp_path / "out" / "samples" / sample_id / "packs").glob("*.html"))
    with TestClient(create_app(Settings(db_path=store))) as c:
        _officer(c)
        compared = 0
        for pack in packs:
            person = pack.name.rsplit("-", 1)[0]
            download = c.get(f"/audit/{sample_id}/children/{person}/pack.html")
            assert download.status_code == 200
            assert download.content == pack.read_bytes(), pack.name
            compared += ", OPEN)" in download.text or ", NEW)" in download.text
    assert compared  # the exceptions' status is in the packs compared


def test_confirmation_rates_on_the_audit_page_count_browser_outcomes_once(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 4, 3)
        person, check = _flagged_child(store, sample_id)
        assert 'data-testid="rates"' not in c.get("/audit").text
        for outcome in ("NOT_A_CONCERN", "CONFIRMED"):  # the latest counts
            c.post(
                f"/audit/{sample_id}/children/{person}/outcome",
                data={"csrf_token": token, "check_id": check, "outcome": outcome},
            )
        row = f'<tr data-check="{check}"><td>{check}</td><td>1</td><td>1</td><td>0</td><td>100%</td><td>0</td><td>1</td></tr>'
        assert row in c.get("/audit").text
    con = duckdb.connect(str(store))
    try:
        assert carry_web_audit(con)["outcomes"] == 2
        publish_snapshot(con)
    finally:
        con.close()
    with TestClient(create_app(Settings(db_path=store))) as c:  # carried: counted once, from the store
        _officer(c)
        assert row in c.get("/audit").text


def test_refused_outcomes_and_dates_show_on_their_page(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 3, 5)
        person, check = _flagged_child(store, sample_id)
        bad = c.post(
            f"/audit/{sample_id}/children/{person}/outcome",
            data={"csrf_token": token, "check_id": check, "outcome": "MAYBE"},
        )
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
        assert 'data-testid="error"' in bad.text and "outcome must be one of" in bad.text
        assert 'data-testid="outcome-forms"' in bad.text and 'data-testid="pack"' in bad.text
        for value, message in (
            ("2026-01-01", "before the sample&#39;s as-at date"),
            ("soon", "must be a date"),
            ("2999-01-01", "in the future"),
        ):
            refused = c.post(f"/audit/{sample_id}/mark-audited", data={"csrf_token": token, "audited_on": value})
            assert refused.status_code == 400 and message in refused.text, value
            assert f'data-sample="{sample_id}"' in refused.text and 'data-testid="error"' in refused.text
    assert _workspace_rows(store, "SELECT * FROM audit_marks") == []


@pytest.mark.parametrize("who", [GP_USER, OFFICER])
def test_a_wrong_method_or_a_trailing_slash_is_404(store, who):
    with TestClient(create_app(Settings(db_path=store))) as c:
        assert login(c, *who).status_code == 303
        token = csrf_of(c.get("/exceptions").text)
        assert c.get("/audit/draw", follow_redirects=False).status_code == 404
        assert c.post("/audit", data={"csrf_token": token}, follow_redirects=False).status_code == 404
        assert c.get("/audit/", follow_redirects=False).status_code == 404
        assert c.get("/exceptions/", follow_redirects=False).status_code == 404


def test_a_small_draw_of_controls_only_says_so(store):
    with TestClient(create_app(Settings(db_path=store))) as c:
        token = _officer(c)
        sample_id = _draw(c, token, 1, 4)
        page = c.get(f"/audit/{sample_id}").text
        assert "1 child, 1 control" in page and "1 children" not in page
        assert 'data-testid="only-controls"' in page
        other = _draw(c, token, 4, 3)
        assert 'data-testid="only-controls"' not in c.get(f"/audit/{other}").text
