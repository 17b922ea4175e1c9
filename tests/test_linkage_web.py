"""The matches page and the child page's "why linked" (issue 26): per-field match weights, the
records the child already has, possible siblings apart, a two-step Confirm (a note below the
configured probability), a Reject that keeps both children, and reversal with a history. The
web never writes the store: decisions go to the workspace and the nightly carries them."""

from __future__ import annotations

import duckdb
import pytest
from starlette.testclient import TestClient
from web_helpers import OFFICER, add_users, copy_store, csrf_of, login, practices

from caseflags.outputs.snapshot import publish_snapshot
from caseflags.web.app import Settings, create_app
from caseflags.workspace.database import connect_workspace, workspace_path

WEIGHTS = [
    (0, "prior", "chance a record is the child before comparing", -12.0),
    (1, "forename", "forename same", 6.5),
    (2, "surname", "surname same", 6.0),
    (3, "dob", "DOB one character apart", 3.0),
    (4, "sex", "sex same", 1.0),
    (5, "postcode", "postcode district same", 0.7),
]


@pytest.fixture(scope="module")
def planted(sample_run, tmp_path_factory):
    """The sample store with a possible match, a possible sibling and a model link planted."""
    db = copy_store(sample_run, tmp_path_factory.mktemp("linkage-web"))
    add_users(db, practices(db)[0][0])
    con = duckdb.connect(str(db))
    try:
        child, has_agency, has_record = con.execute(
            "SELECT person_id, agency, agency_record_id FROM person_links WHERE method <> 'LA_ID' "
            "ORDER BY person_id, agency LIMIT 1"
        ).fetchone()
        free = con.execute(
            "SELECT CAST(agency AS VARCHAR), agency_record_id FROM agency_records "
            "ANTI JOIN person_links USING (agency_record_id) ORDER BY 1, 2 LIMIT 2"
        ).fetchall()
        (match_agency, match_record), (sibling_agency, sibling_record) = free
        con.execute("DELETE FROM link_candidates")
        con.execute("DELETE FROM link_match_weights")
        con.execute("DELETE FROM link_decisions")
        con.execute(
            "INSERT INTO link_candidates VALUES (?, ?, ?, 0.9, 'forename same; surname same', "
            "'POSSIBLE_MATCH', 0.9, 3.2)",
            [match_agency, match_record, child],
        )
        con.execute(
            "INSERT INTO link_candidates VALUES (?, ?, ?, 0.004, 'possible sibling (probably a different "
            "child); forename differs', 'POSSIBLE_SIBLING', 0.997, 8.4)",
            [sibling_agency, sibling_record, child],
        )
        for position, comparison, level, weight in WEIGHTS:
            con.execute(
                "INSERT INTO link_match_weights VALUES (?, ?, ?, ?, ?, ?, ?)",
                [match_agency, match_record, child, position, comparison, level, weight],
            )
        # The child's existing record becomes a model link with its weights (the child page's "why linked").
        con.execute(
            "UPDATE person_links SET method = 'PROBABILISTIC', match_probability = 0.998 "
            "WHERE person_id = ? AND agency = ? AND agency_record_id = ?",
            [child, has_agency, has_record],
        )
        for position, comparison, level, weight in WEIGHTS:
            con.execute(
                "INSERT INTO link_match_weights VALUES (?, ?, ?, ?, ?, ?, ?)",
                [has_agency, has_record, child, position, comparison, level, weight + 1],
            )
        publish_snapshot(con)
    finally:
        con.close()
    return db, child, (match_agency, match_record), (sibling_agency, sibling_record), (has_agency, has_record)


def _decide(client, page_text, agency, record, child, **fields):
    return client.post(
        "/matches/decide",
        data={
            "csrf_token": csrf_of(page_text),
            "agency": agency,
            "agency_record_id": record,
            "person_id": child,
            **fields,
        },
        follow_redirects=False,
    )


def _workspace_decisions(db):
    ws = connect_workspace(workspace_path(db))
    try:
        return [
            tuple(r) for r in ws.execute("SELECT decision, note FROM link_decisions ORDER BY decision_id").fetchall()
        ]
    finally:
        ws.close()


def test_matches_page_explains_each_candidate_and_shows_siblings_apart(planted):
    db, child, (match_agency, match_record), (sibling_agency, sibling_record), (has_agency, has_record) = planted
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert login(c, *OFFICER).status_code == 303
        page = c.get("/matches").text
    matches, siblings = (
        page.split("Possible siblings (probably a different child)", 1)[0],
        page.split("Possible siblings (probably a different child)", 1)[1],
    )
    assert match_record in matches and sibling_record not in matches
    assert sibling_record in siblings.split("<h2>Decisions")[0]
    assert "0.004" in siblings and "0.997" in siblings  # the household probability, and the raw score beside it
    # Why: each field's match weight, and their total.
    assert "Match weight" in page and "DOB one character apart" in page and "+6.5" in page and "+5.2" in page
    # The records the child already has.
    assert "Records the child already has" in page and has_record in matches
    # Confirm and Reject look and read differently.
    assert 'class="confirm"' in page and 'class="reject"' in page
    assert "Same child: link" in page and "Different children (keep both)" in page


def test_confirm_takes_two_steps_and_a_note_below_the_configured_probability(planted):
    db, child, (agency, record), _, _ = planted
    with TestClient(create_app(Settings(db_path=db, confirm_note_below=0.95))) as c:
        assert login(c, *OFFICER).status_code == 303
        page = c.get("/matches").text
        before = _workspace_decisions(db)
        first = _decide(c, page, agency, record, child, decision="CONFIRMED")
        assert first.status_code == 200 and "Yes: the same child, link them" in first.text
        assert _workspace_decisions(db) == before  # nothing recorded by the first step
        assert "required" in first.text
        no_note = _decide(c, first.text, agency, record, child, decision="CONFIRMED", confirmed="yes")
        assert no_note.status_code == 400 and _workspace_decisions(db) == before
        done = _decide(
            c, first.text, agency, record, child, decision="CONFIRMED", confirmed="yes", note="school checked"
        )
        assert done.status_code == 303
        assert _workspace_decisions(db)[-1] == ("CONFIRMED", "school checked")
    # Above the configured probability no note is needed.
    with TestClient(create_app(Settings(db_path=db, confirm_note_below=0.5))) as c:
        assert login(c, *OFFICER).status_code == 303
        page = c.get("/matches").text
        first = _decide(c, page, agency, record, child, decision="CONFIRMED")
        assert 'name="note" size="40" value="">' in first.text  # not required


def test_a_decision_can_be_reversed_with_a_note_and_keeps_its_history(planted):
    db, child, _, (agency, record), _ = planted
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert login(c, *OFFICER).status_code == 303
        page = c.get("/matches").text
        assert _decide(c, page, agency, record, child, decision="REJECTED", note="a twin").status_code == 303
        page = c.get("/matches").text
        assert "Different children (rejected) by officer.ann" in page
        # Reversal without a note is refused; with one it is recorded, and both stay in the history.
        refused = _decide(c, page, agency, record, child, decision="CONFIRMED", confirmed="yes")
        assert refused.status_code == 400
        step = _decide(c, page, agency, record, child, decision="CONFIRMED", note="same child after all")
        assert step.status_code == 200
        assert (
            _decide(
                c, step.text, agency, record, child, decision="CONFIRMED", confirmed="yes", note="same child after all"
            ).status_code
            == 303
        )
        page = c.get("/matches").text
        section = page.split(record)[1]
        assert "Same child (confirmed) by officer.ann" in section and "Different children (rejected)" in section
    # A pair neither offered nor decided cannot be decided.
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert login(c, *OFFICER).status_code == 303
        page = c.get("/matches").text
        assert _decide(c, page, agency, "NOPE", child, decision="REJECTED", note="x").status_code == 404


def test_child_page_says_why_each_record_is_linked(planted):
    db, child, _, _, (agency, record) = planted
    with TestClient(create_app(Settings(db_path=db))) as c:
        assert login(c, *OFFICER).status_code == 303
        page = c.get(f"/children/{child}").text
    why = page.split('data-testid="why-linked"', 1)[1].split("</section>", 1)[0]
    assert record in why and "the model, probability 0.998" in why
    assert "DOB one character apart" in why and "+7.5" in why
