"""Issue 25 in the workspace: Today is about children, the child whole, and who owns what.

On a copy of the sample run's store to which the fixture adds issue 25's priority and owner
columns (computed here, as the nightly's outputs will: `sql/web/priority_owner_tables.sql` is the
one place the web reads them), with one planted child that the alphabet and severity would put
last and its priority puts first.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import GP_USER, OFFICER, add_users, copy_store, csrf_of, login, practices

from caseflags.cli import app as cli_app
from caseflags.outputs.snapshot import publish_snapshot
from caseflags.web import queries
from caseflags.web.app import Settings, create_app
from caseflags.web.queries import child_events
from caseflags.workspace.database import connect_workspace, workspace_path

AS_AT = date(2026, 11, 24)
WORKER_USER = ("worker.sw", "worker-password-1")


def _plant_priorities(db: Path) -> dict:
    """Add what the nightly's issue-25 outputs add: per-row priority, reason and owners (the
    allocated social worker and their team for social-care rows), the SSD's involvement team, and
    a per-child priority. Plant one child the alphabet would put last at the top."""
    con = duckdb.connect(str(db))
    try:
        con.execute("ALTER TABLE ssd_involvements ADD COLUMN IF NOT EXISTS invo_professional_team VARCHAR")
        con.execute("UPDATE ssd_involvements SET invo_professional_team = 'Team ' || (hash(invo_professional_id) % 3)")
        for column, kind in (
            ("priority", "DOUBLE"),
            ("priority_reason", "VARCHAR"),
            ("owner_name", "VARCHAR"),
            ("owner_team", "VARCHAR"),
            ("owner_professional_id", "VARCHAR"),
        ):
            con.execute(f"ALTER TABLE exception_history ADD COLUMN IF NOT EXISTS {column} {kind}")
        run_id = con.execute("SELECT run_id FROM lifecycle_runs ORDER BY seq DESC LIMIT 1").fetchone()[0]
        con.execute(
            """UPDATE exception_history SET
                   priority = CASE severity WHEN 'HIGH' THEN 30 WHEN 'MEDIUM' THEN 20 ELSE 10 END,
                   priority_reason = severity || '; fixture score'
               WHERE run_id = $run""",
            {"run": run_id},
        )
        con.execute(
            """UPDATE exception_history AS h SET owner_professional_id = w.invo_professional_id,
                   owner_name = p.prof_professional_name, owner_team = w.invo_professional_team
               FROM ssd_involvements AS w JOIN ssd_professionals AS p ON p.prof_professional_id = w.invo_professional_id
               WHERE h.run_id = $run AND h.agency = 'SOCIAL_CARE' AND w.invo_person_id = h.person_id
                 AND w.invo_professional_role_id = 'CW' AND w.invo_involvement_start_date <= $as_at
                 AND (w.invo_involvement_end_date IS NULL OR w.invo_involvement_end_date > $as_at)""",
            {"run": run_id, "as_at": AS_AT},
        )
        # The planted child: among children whose every row is of the lowest severity, the one whose
        # check sorts last; alphabet, severity and id all put it at the end.
        planted_person, planted_exception = con.execute(
            """WITH listed AS (SELECT * FROM exception_history WHERE run_id = $run AND status IN ('NEW', 'OPEN')
                               AND person_id IS NOT NULL),
                    low_children AS (SELECT person_id FROM listed GROUP BY person_id
                                     HAVING bool_and(severity = 'LOW') AND count(*) = 1)
               SELECT person_id, exception_id FROM listed WHERE person_id IN (SELECT person_id FROM low_children)
               ORDER BY check_id DESC, person_id DESC LIMIT 2""",
            {"run": run_id},
        ).fetchall()[0]
        # A second such child whose only row has the lowest priority of all, second by its child score
        # alone (its row's priority would put it last).
        child_only_person, child_only_exception = con.execute(
            """WITH listed AS (SELECT * FROM exception_history WHERE run_id = $run AND status IN ('NEW', 'OPEN')
                               AND person_id IS NOT NULL),
                    low_children AS (SELECT person_id FROM listed GROUP BY person_id
                                     HAVING bool_and(severity = 'LOW') AND count(*) = 1)
               SELECT person_id, exception_id FROM listed WHERE person_id IN (SELECT person_id FROM low_children)
                 AND person_id <> $planted ORDER BY check_id DESC, person_id DESC LIMIT 1""",
            {"run": run_id, "planted": planted_person},
        ).fetchone()
        con.execute(
            "UPDATE exception_history SET priority = 1 WHERE run_id = $run AND exception_id = $id",
            {"run": run_id, "id": child_only_exception},
        )
        con.execute(
            "UPDATE exception_history SET priority = 99, priority_reason = 'LOW; planted: 60 days past a 10-day limit' "
            "WHERE run_id = $run AND exception_id = $id",
            {"run": run_id, "id": planted_exception},
        )
        con.execute("DROP TABLE IF EXISTS child_priority")  # the nightly's own, replaced by the fixture's scores
        con.execute(
            "CREATE TABLE child_priority AS SELECT run_id, person_id, max(priority) AS priority, "
            "'fixture child score' AS priority_reason FROM exception_history "
            "WHERE run_id = $run AND status IN ('NEW', 'OPEN') AND person_id IS NOT NULL GROUP BY ALL",
            {"run": run_id},
        )
        con.execute(
            "UPDATE child_priority SET priority = 500, priority_reason = 'planted child' WHERE person_id = $p",
            {"p": planted_person},
        )
        con.execute(
            "UPDATE child_priority SET priority = 400, priority_reason = 'second by child score' WHERE person_id = $p",
            {"p": child_only_person},
        )
        worker = con.execute(
            """SELECT owner_professional_id, owner_team FROM exception_history WHERE run_id = $run
               AND owner_professional_id IS NOT NULL GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1""",
            {"run": run_id},
        ).fetchone()
        publish_snapshot(con)
    finally:
        con.close()
    return {
        "person": planted_person,
        "exception": planted_exception,
        "second": child_only_person,
        "worker": worker[0],
        "team": worker[1],
    }


@pytest.fixture(scope="module")
def store(sample_run, tmp_path_factory):
    db = copy_store(sample_run, tmp_path_factory.mktemp("web-children"))
    planted = _plant_priorities(db)
    found = practices(db)
    add_users(db, found[0][0])
    added = CliRunner().invoke(
        cli_app,
        [
            "users",
            "add",
            WORKER_USER[0],
            "--role",
            "officer",
            "--professional",
            planted["worker"].lower(),
            "--db",
            str(db),
        ],
        input=WORKER_USER[1] + "\n",
    )
    assert added.exit_code == 0, added.output
    return db, found, planted


@pytest.fixture
def client(store):
    db, _found, _planted = store
    with TestClient(create_app(Settings(db_path=db))) as test_client:
        yield test_client


def _snapshot(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def _total(client, query: str) -> int:
    return int(re.search(r'data-testid="total">(\d+) matching', client.get(f"/exceptions?{query}").text).group(1))


def _section(html: str, name: str) -> str:
    return re.search(rf'<section id="{name}" data-section="{name}".*?</section>', html, re.S).group(0)


def _tiles(html: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'data-tile="(\w+)"><strong>(\d+)</strong>', html)}


# -- Today ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["officer", "gp"])
def test_every_tile_counts_exactly_what_its_section_lists(client, who):
    login(client, *(OFFICER if who == "officer" else GP_USER))
    html = client.get("/").text
    tiles = _tiles(html)
    assert set(tiles) == {"children", "rest", "new", "high", "overdue"}
    for name, count in tiles.items():
        section = _section(html, name)
        assert f'data-total="{count}"' in section, name
    # the children section lists exactly that many children
    assert len(re.findall(r"<li data-child=", _section(html, "children"))) == tiles["children"]
    # new / high / overdue: the same rows as the filter their "all" link opens (first 10 shown)
    for name, query in (("new", "status=NEW"), ("high", "severity=HIGH"), ("overdue", "overdue=1")):
        assert _total(client, query) == tiles[name], name
        shown = len(re.findall(r"<tr class=\"sev-", _section(html, name)))
        assert shown == min(tiles[name], 10), name
    # the children's rows and the rest are every listed row once
    child_rows = len(re.findall(r"<tr class=\"sev-", _section(html, "children")))
    assert child_rows + tiles["rest"] == _total(client, "")
    assert len(re.findall(r"<tr class=\"sev-", _section(html, "rest"))) == min(tiles["rest"], 25)


def test_the_planted_child_comes_first_with_its_concerns_and_owners(client, store):
    db, _found, planted = store
    login(client, *OFFICER)
    html = client.get("/").text
    children = re.findall(r'<li data-child="([^"]+)"', html)
    assert children[0] == planted["person"]
    assert children[1] == planted["second"]  # by its child score alone: its only row ranks last of all
    last_row = re.findall(r'data-exception="([^"]+)"', client.get("/exceptions?sort=priority&dir=desc").text)[0]
    assert (
        _snapshot(db, "SELECT person_id FROM web_exceptions WHERE exception_id = $e", {"e": last_row})[0][0]
        == planted["second"]
    )
    first = re.search(r'<li data-child="[^"]+">.*?</li>', _section(html, "children"), re.S).group(0)
    assert planted["exception"] in first and "planted child" in first
    # a child further down carries every open concern of theirs, with owners
    ranked = _snapshot(db, "SELECT person_id, open_concerns FROM web_children ORDER BY child_order LIMIT 10")
    assert children == [p for p, _n in ranked]
    for person, concerns in ranked[1:]:
        block = re.search(rf'<li data-child="{person}">.*?</li>', html, re.S).group(0)
        assert len(re.findall(r"<tr class=\"sev-", block)) == concerns
    owned = _snapshot(
        db,
        "SELECT DISTINCT owner_name FROM web_exceptions WHERE owner_name IS NOT NULL AND "
        "person_id IN (SELECT person_id FROM web_children WHERE child_order <= 10)",
    )
    assert owned and all(name in _section(html, "children") for (name,) in owned)
    # the exceptions list sorted by priority starts with the planted row
    assert (
        re.search(r'data-exception="([^"]+)"', client.get("/exceptions?sort=priority").text).group(1)
        == planted["exception"]
    )


# -- owners: users --professional, mine, my team, no organisation ------------------------------


def test_users_add_professional_is_checked_against_the_store(store, tmp_path):
    db, _found, planted = store
    runner = CliRunner()
    unknown = runner.invoke(
        cli_app,
        ["users", "add", "nobody.sw", "--role", "officer", "--professional", "PRF99999", "--db", str(db)],
        input="long-enough-pw\n",
    )
    assert unknown.exit_code == 2 and "PRF99999" in unknown.output
    listed = runner.invoke(cli_app, ["users", "list", "--db", str(db)])
    assert planted["worker"] in listed.output and "nobody.sw" not in listed.output
    # no store yet: added, with a warning that it was not checked
    lonely = runner.invoke(
        cli_app,
        [
            "users",
            "add",
            "early.sw",
            "--role",
            "officer",
            "--professional",
            "PRF00001",
            "--db",
            str(tmp_path / "none.duckdb"),
        ],
        input="long-enough-pw\n",
    )
    assert lonely.exit_code == 0 and "not checked" in lonely.output


def test_mine_and_my_team_filters(client, store):
    db, _found, planted = store
    login(client, *WORKER_USER)
    owned = _snapshot(
        db, "SELECT count(*) FROM web_exceptions WHERE owner_professional_id = $p", {"p": planted["worker"]}
    )[0][0]
    team = _snapshot(db, "SELECT count(*) FROM web_exceptions WHERE owner_team = $t", {"t": planted["team"]})[0][0]
    assert 0 < owned < team or owned == team > 0
    assert _total(client, "mine=1") == owned
    assert _total(client, "team=1") == team
    # assigning one more row to me makes it mine
    other = _snapshot(
        db,
        "SELECT exception_id FROM web_exceptions WHERE owner_professional_id IS DISTINCT FROM $p "
        "ORDER BY exception_id LIMIT 1",
        {"p": planted["worker"]},
    )[0][0]
    token = csrf_of(client.get(f"/exceptions/{other}").text)
    saved = client.post(
        f"/exceptions/{other}/review",
        data={"assign": "1", "assignee": WORKER_USER[0], "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert _total(client, "mine=1") == owned + 1
    # an officer without a linked worker: only what is assigned to them, no team
    login(client, *OFFICER)
    assert _total(client, "mine=1") == 0 and _total(client, "team=1") == 0


def test_exports_and_the_review_page_carry_priority_and_owner(client, store):
    db, _found, planted = store
    login(client, *OFFICER)
    rows = list(csv.DictReader(io.StringIO(client.get("/exceptions/export.csv?sort=priority").text)))
    assert rows[0]["exception_id"] == planted["exception"] and rows[0]["priority"] == "99"
    expected = dict(_snapshot(db, "SELECT exception_id, owner_name FROM web_exceptions WHERE owner_name IS NOT NULL"))
    assert expected and {r["exception_id"]: r["owner_name"] for r in rows if r["owner_name"]} == expected
    page = client.get(f"/exceptions/{planted['exception']}").text
    assert "planted: 60 days past a 10-day limit" in page


def test_no_organisation_filter_lists_the_central_queue(client, store):
    db, _found, _planted = store
    expected = _snapshot(
        db, "SELECT count(*) FROM web_exceptions WHERE agency IN ('GP', 'EDUCATION') AND organisation IS NULL"
    )[0][0]
    assert expected > 0
    login(client, *OFFICER)
    page = client.get("/exceptions?no_org=1").text
    assert f"{expected} matching" in page and "central queue" in page and 'name="no_org"' in page
    login(client, *GP_USER)  # a practice never sees the queue of rows no practice owns
    assert _total(client, "no_org=1") == 0 and 'name="no_org"' not in client.get("/exceptions").text


# -- the child whole ----------------------------------------------------------------------------


def test_a_child_without_an_open_exception_has_a_page_for_officers_only(client, store):
    db, found, _planted = store
    quiet = _snapshot(
        db,
        "SELECT min(person_id) FROM person_links WHERE person_id NOT IN "
        "(SELECT person_id FROM web_exceptions WHERE person_id IS NOT NULL)",
    )[0][0]
    login(client, *OFFICER)
    page = client.get(f"/children/{quiet}")
    assert page.status_code == 200 and f"Child {quiet}" in page.text and 'data-testid="facts"' in page.text
    assert client.get("/children/NO-SUCH-CHILD").status_code == 404
    login(client, *GP_USER)
    assert client.get(f"/children/{quiet}").status_code == 404
    assert client.get(f"/children/{found[1][1]}").status_code == 404


def test_the_officer_opens_an_audit_control_childs_page(client, store):
    db, _found, _planted = store
    login(client, *OFFICER)
    token = csrf_of(client.get("/audit").text)
    drawn = client.post("/audit/draw", data={"csrf_token": token, "size": "6", "seed": "5"}, follow_redirects=False)
    sample_id = drawn.headers["location"].split("drawn=", 1)[1]
    ws = connect_workspace(workspace_path(db))
    controls = [
        r[0]
        for r in ws.execute(
            "SELECT person_id FROM audit_sample_children WHERE sample_id = ? AND role = 'CONTROL'", (sample_id,)
        ).fetchall()
    ]
    ws.close()
    assert controls
    sample_page = client.get(f"/audit/{sample_id}").text
    for person in controls:
        assert f'href="/children/{person}"' in sample_page
        page = client.get(f"/children/{person}")
        assert page.status_code == 200 and 'data-fact="age"' in page.text


def test_facts_header_is_the_childs_facts_at_the_as_at_date(client, store):
    db, _found, _planted = store
    (person,) = _snapshot(
        db,
        """SELECT person_id FROM web_exceptions WHERE agency = 'SOCIAL_CARE' AND owner_name IS NOT NULL
                               ORDER BY person_id LIMIT 1""",
    )[0]
    (dob,) = _snapshot(db, "SELECT min(pers_dob) FROM ssd_person WHERE pers_person_id = $p", {"p": person})[0]
    (worker,) = _snapshot(
        db,
        """SELECT p.prof_professional_name FROM ssd_involvements AS i JOIN ssd_professionals AS p
                               ON p.prof_professional_id = i.invo_professional_id WHERE i.invo_person_id = $p
                               AND i.invo_professional_role_id = 'CW' AND i.invo_involvement_start_date <= $d
                               AND (i.invo_involvement_end_date IS NULL OR i.invo_involvement_end_date > $d)
                               ORDER BY i.invo_involvement_start_date LIMIT 1""",
        {"p": person, "d": AS_AT},
    )[0]
    login(client, *OFFICER)
    html = client.get(f"/children/{person}").text
    facts = {k: re.sub(r"<[^>]+>", "", v) for k, v in re.findall(r'<dd data-fact="(\w+)">(.*?)</dd>', html, re.S)}
    age = AS_AT.year - dob.year - ((AS_AT.month, AS_AT.day) < (dob.month, dob.day))
    assert facts["age"] == str(age)
    assert set(facts) == {"age", "cin", "cp", "ehcp", "worker", "school", "gp"}
    assert worker in facts["worker"] and "Team " in facts["worker"]


def test_the_chronology_is_whole_with_its_source_and_paged(client, store, monkeypatch):
    db, _found, _planted = store
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")), read_only=True)
    busiest = max(
        (
            p
            for (p,) in con.execute(
                "SELECT person_id FROM web_exceptions WHERE person_id IS NOT NULL "
                "GROUP BY 1 ORDER BY count(DISTINCT agency) DESC, 1 LIMIT 4"
            ).fetchall()
        ),
        key=lambda p: len(child_events(con, p, AS_AT)),
    )
    events = child_events(con, busiest, AS_AT)
    con.close()
    monkeypatch.setattr(queries, "EVENTS_PAGE_SIZE", 40)
    login(client, *OFFICER)
    pages = -(-len(events) // 40)
    assert pages >= 2
    seen = []
    for number in range(1, pages + 1):
        section = re.search(
            r'<section id="chronology".*?</section>', client.get(f"/children/{busiest}?events_page={number}").text, re.S
        ).group(0)
        seen += re.findall(
            r"<tr><td class=\"nowrap\">([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", section
        )
        assert f"page {number} of {pages}" in section
    assert len(seen) == len(events)  # every event once, none cut
    newest_first = events[::-1]
    assert [(d, a, s, r) for d, a, s, r in seen] == [
        (str(e.event_date or "undated"), e.agency, queries.source_label(e.source_table), e.record_id or "")
        for e in newest_first
    ]
    assert all(source and "_" not in source for _d, _a, source, _r in seen)  # a plain source name, not a table name


def test_under_each_exception_the_records_that_fired_it(client, store):
    db, found, _planted = store
    plan_row = _snapshot(
        db,
        "SELECT person_id, exception_id, entity_id FROM web_exceptions WHERE check_id = 'CIN_PLAN_NOT_SMART' "
        "ORDER BY exception_id LIMIT 1",
    )[0]
    login(client, *OFFICER)
    html = client.get(f"/children/{plan_row[0]}").text
    fired = re.search(
        rf'<tr class="fired-row" data-fired="{plan_row[1]}">.*?</td></tr>\s*(?=<tr|</tbody>)', html, re.S
    ).group(0)
    assert f"<td>{plan_row[2]}</td>" in fired and "CIN plans" in fired
    attendance = _snapshot(
        db,
        "SELECT person_id, exception_id FROM web_exceptions WHERE check_id = 'SCHOOL_ATTENDANCE_LOW' "
        "ORDER BY exception_id LIMIT 1",
    )[0]
    html = client.get(f"/children/{attendance[0]}").text
    fired = re.search(rf'data-fired="{attendance[1]}">.*?</table>', html, re.S).group(0)
    assert "School attendance register" in fired and "Attendance in the month" in fired


def test_scope_holds_on_the_child_page_and_today(client, store):
    db, found, _planted = store
    practice, child = found[0]
    login(client, *GP_USER)
    html = client.get(f"/children/{child}").text
    assert set(re.findall(r'<dd data-fact="(\w+)">', html)) == {"age", "worker"}  # no other agency's facts
    chronology = re.search(r'<section id="chronology".*?</section>', html, re.S).group(0)
    agencies = set(re.findall(r"<tr><td class=\"nowrap\">[^<]*</td><td>([^<]*)</td>", chronology))
    assert agencies <= {"GP"}
    for block in re.findall(r'<tr class="fired-row".*?</td></tr>', html, re.S):
        assert "Social care" not in block
    assert child not in re.sub(r'href="[^"]*"', "", html)  # the LA child id is not printed to a partner
    today = client.get("/").text
    listed = set(re.findall(r'data-exception="([^"]+)"', today))
    own = {
        r[0]
        for r in _snapshot(
            db, "SELECT exception_id FROM web_exceptions WHERE agency = 'GP' AND organisation = $o", {"o": practice}
        )
    }
    assert listed and listed <= own
