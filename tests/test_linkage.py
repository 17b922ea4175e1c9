"""Person linkage (flows/linkage.py): deterministic methods, the splink model, officers'
decisions, conflicts, identifiers, and agreement with the generator's truth links."""

from __future__ import annotations

import json
import logging
import random
from datetime import date, timedelta

import duckdb
import nhs_number
import pytest

from caseflags.contracts.identifiers import is_valid_nhs_number, is_valid_upn, upn_check_letter
from caseflags.linkage import people as linkage
from caseflags.store.database import connect, ensure_store

pytestmark = pytest.mark.slow  # trains or applies a splink model on a population: not in `make check`

FORENAMES = (
    "oliver amelia george isla harry ava noah mia jack ivy leo lily arthur freya muhammad grace "
    "oscar willow charlie sophia thomas emily jacob poppy alfie evie henry ella"
).split()
SURNAMES = (
    "smith jones taylor brown williams wilson johnson davies patel wright khan evans thomas roberts "
    "walker white green hall wood clarke hughes edwards lewis hill moore clark"
).split()


# -- helpers --------------------------------------------------------------------------------


def make_nhs(rng: random.Random) -> str:
    while True:
        first_nine = "".join(rng.choice("0123456789") for _ in range(9))
        check = nhs_number.calculate_checksum(first_nine)
        if check < 10:
            return first_nine + str(check)


def make_upn(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(12))
    return upn_check_letter(body) + body


def invalid_nhs(valid: str) -> str:
    """Change the check digit: modulus 11 then fails."""
    return valid[:9] + str((int(valid[9]) + 1) % 10)


def without_training_date(model_json: str) -> dict:
    model = json.loads(model_json)
    model["caseflags_training"].pop("trained_at")
    return model


def new_store() -> duckdb.DuckDBPyConnection:
    con = connect()
    ensure_store(con)
    return con


def add_person(con, person_id, dob, *, forename="Sam", surname="Example", sex="F", nhs=None, upn=None, postcode=None):
    con.execute(
        "INSERT INTO ssd_person (pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_surname, "
        "pers_dob, pers_sex) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [person_id, upn, nhs, forename, surname, dob, sex],
    )
    if postcode:
        con.execute("INSERT INTO ssd_address VALUES (?, ?, ?, NULL)", [person_id, postcode, date(2020, 1, 1)])


def add_record(
    con,
    agency,
    record_id,
    *,
    nhs=None,
    upn=None,
    la_person_id=None,
    forename=None,
    surname=None,
    dob=None,
    sex=None,
    postcode=None,
):
    con.execute(
        "INSERT INTO agency_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [agency, record_id, nhs, upn, la_person_id, forename, surname, dob, sex, postcode],
    )


def links(con) -> dict[tuple[str, str], tuple[str, str]]:
    """(agency, record) -> (child, method) for partner links."""
    rows = con.execute(
        "SELECT agency, agency_record_id, person_id, method FROM person_links WHERE method <> 'LA_ID'"
    ).fetchall()
    return {(a, r): (p, m) for a, r, p, m in rows}


def probability(con, agency, record_id) -> float:
    return con.execute(
        "SELECT match_probability FROM person_links WHERE agency = ? AND agency_record_id = ?", [agency, record_id]
    ).fetchall()[0][0]


def populate(con, n_children=160, seed=7):
    """A small authority: children with GP and school records, most carrying an identifier
    (training labels), some without (left to the model), with the usual slips in both, and
    partner records of children social care does not know. Returns the true links."""
    rng = random.Random(seed)
    truth = set()
    for i in range(n_children):
        person_id = f"P{i:04d}"
        dob = date(2009, 1, 1) + timedelta(days=rng.randrange(5500))
        forename, surname = rng.choice(FORENAMES).title(), rng.choice(SURNAMES).title()
        sex = rng.choice("MF")
        postcode = f"BS{rng.randrange(1, 16)} {rng.randrange(1, 9)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}"
        nhs, upn = make_nhs(rng), make_upn(rng)
        add_person(
            con, person_id, dob, forename=forename, surname=surname, sex=sex, nhs=nhs, upn=upn, postcode=postcode
        )
        for agency in ("GP", "EDUCATION"):
            record_id = f"{agency[:2]}{i:04d}"
            has_identifier = rng.random() < 0.8
            rec_forename, rec_surname, rec_dob = forename, surname, dob
            if rng.random() < 0.15:  # a typing slip in the forename
                cut = rng.randrange(1, len(forename) - 1)
                rec_forename = forename[:cut] + forename[cut + 1 :]
            if rng.random() < 0.05 and dob.day <= 12 and dob.day != dob.month:  # day and month swapped
                rec_dob = date(dob.year, dob.day, dob.month)
            add_record(
                con,
                agency,
                record_id,
                nhs=nhs if has_identifier and agency == "GP" else None,
                upn=upn if has_identifier and agency == "EDUCATION" else None,
                forename=rec_forename,
                surname=rec_surname,
                dob=rec_dob,
                sex=sex,
                postcode=postcode if rng.random() < 0.85 else None,
            )
            truth.add((agency, record_id, person_id))
    for j in range(n_children // 2):  # children unknown to social care
        add_record(
            con,
            rng.choice(("GP", "EDUCATION")),
            f"X{j:04d}",
            nhs=make_nhs(rng),
            forename=rng.choice(FORENAMES),
            surname=rng.choice(SURNAMES),
            dob=date(2009, 1, 1) + timedelta(days=rng.randrange(5500)),
            sex=rng.choice("MF"),
            postcode=f"BS{rng.randrange(1, 16)} 1AA",
        )
    return truth


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """One model trained on the small authority, reused (loaded) by tests that need the model."""
    path = tmp_path_factory.mktemp("linkage") / "model.json"
    con = new_store()
    populate(con)
    summary = linkage.link_people(con, model_path=path)
    assert summary.model == "trained"
    con.close()
    return path


# -- identifier validity ----------------------------------------------------------------------


def test_sql_identifier_validity_agrees_with_python_rules():
    rng = random.Random(3)
    nhs_values = [make_nhs(rng) for _ in range(200)] + [
        "".join(rng.choice("0123456789") for _ in range(10)) for _ in range(800)
    ]
    upn_values = [make_upn(rng) for _ in range(200)] + [
        rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + make_upn(rng)[1:] for _ in range(800)
    ]
    upn_values += ["A12345678901I", "a12345678901", "1234567890123", ""]
    con = duckdb.connect()
    ensure_store(con)  # the linkage macros
    sql_nhs = con.execute(
        "SELECT v, link_nhs_number_is_valid(link_nhs_number(v)) FROM unnest($v) AS t(v)", {"v": nhs_values}
    ).fetchall()
    sql_upn = con.execute(
        "SELECT v, link_upn_is_valid(link_upn(v)) FROM unnest($v) AS t(v)", {"v": upn_values}
    ).fetchall()
    assert {v: ok for v, ok in sql_nhs} == {v: is_valid_nhs_number(v) for v in nhs_values}
    assert {v: ok for v, ok in sql_upn} == {v: is_valid_upn(v) for v in upn_values}
    assert 0 < sum(ok for _, ok in sql_nhs) < len(nhs_values)  # both outcomes exercised
    assert 0 < sum(ok for _, ok in sql_upn) < len(upn_values)


# -- deterministic methods --------------------------------------------------------------------


def test_each_deterministic_method_links_and_social_care_links_itself():
    rng = random.Random(11)
    nhs, upn, former_upn, linked_nhs = make_nhs(rng), make_upn(rng), make_upn(rng), make_nhs(rng)
    con = new_store()
    add_person(con, "C1", date(2014, 5, 2), nhs=nhs, upn=upn)
    add_person(con, "C2", date(2013, 1, 9))
    con.execute("INSERT INTO ssd_linked_identifiers VALUES ('C1', 'Unique Pupil Number', ?, NULL, NULL)", [former_upn])
    con.execute("INSERT INTO ssd_linked_identifiers VALUES ('C2', 'nhs number', ?, NULL, NULL)", [linked_nhs])
    add_record(con, "GP", "G1", nhs=nhs[:3] + " " + nhs[3:6] + " " + nhs[6:])  # spaces as typed
    add_record(con, "EDUCATION", "E1", upn=upn.lower())
    add_record(con, "EDUCATION", "E2", upn=former_upn)
    add_record(con, "COMMUNITY_HEALTH", "H1", nhs=linked_nhs)
    add_record(con, "POLICE", "PO1", la_person_id="C2")
    add_record(con, "ACUTE_HEALTH", "A1", nhs=nhs, upn=upn, la_person_id="C1")  # all agree: strongest wins

    summary = linkage.link_people(con)

    assert links(con) == {
        ("GP", "G1"): ("C1", "NHS_NUMBER"),
        ("EDUCATION", "E1"): ("C1", "UPN"),
        ("EDUCATION", "E2"): ("C1", "LINKED_IDENTIFIER"),
        ("COMMUNITY_HEALTH", "H1"): ("C2", "LINKED_IDENTIFIER"),
        ("POLICE", "PO1"): ("C2", "LA_PERSON_ID"),
        ("ACUTE_HEALTH", "A1"): ("C1", "NHS_NUMBER"),
    }
    assert con.execute(
        "SELECT agency, agency_record_id, person_id, method, match_probability FROM person_links "
        "WHERE method = 'LA_ID' ORDER BY person_id"
    ).fetchall() == [("SOCIAL_CARE", "C1", "C1", "LA_ID", 1.0), ("SOCIAL_CARE", "C2", "C2", "LA_ID", 1.0)]
    assert {p for (p,) in con.execute("SELECT DISTINCT match_probability FROM person_links").fetchall()} == {1.0}
    assert summary.links_by_method == {"LA_ID": 2, "NHS_NUMBER": 2, "UPN": 1, "LINKED_IDENTIFIER": 2, "LA_PERSON_ID": 1}
    assert summary.model == "not needed"  # every record settled without the model
    assert sorted(con.execute("SELECT * FROM person_identifiers").fetchall()) == sorted(
        [
            ("C1", "NHS_NUMBER", nhs),
            ("C1", "UPN", upn),
            ("C1", "UPN", former_upn),
            ("C2", "NHS_NUMBER", linked_nhs),
        ]
    )


def test_invalid_identifiers_never_link_and_are_not_person_identifiers():
    rng = random.Random(12)
    bad_nhs = invalid_nhs(make_nhs(rng))
    con = new_store()
    add_person(con, "C1", date(2014, 5, 2), nhs=bad_nhs, upn="A12345678901B")
    add_record(con, "GP", "G1", nhs=bad_nhs)
    add_record(con, "EDUCATION", "E1", upn="A12345678901B")
    add_person(con, "C2", date(2015, 6, 3))
    add_record(con, "POLICE", "PO1", la_person_id="C2")  # gives the model nothing to do but keeps a link

    linkage.link_people(con, review_threshold=0.99)

    assert ("GP", "G1") not in links(con) and ("EDUCATION", "E1") not in links(con)
    assert con.execute("SELECT count(*) FROM person_identifiers").fetchall() == [(0,)]


def test_identifiers_from_linked_records_become_person_identifiers():
    rng = random.Random(13)
    upn, gp_nhs = make_upn(rng), make_nhs(rng)
    con = new_store()
    add_person(con, "C1", date(2014, 5, 2), upn=upn)
    add_record(con, "EDUCATION", "E1", upn=upn, nhs=gp_nhs)  # the school knows the NHS number too
    linkage.link_people(con)
    assert ("C1", "NHS_NUMBER", gp_nhs) in con.execute("SELECT * FROM person_identifiers").fetchall()


# -- conflicts ----------------------------------------------------------------------------------


def test_record_matching_two_children_is_a_conflict_and_not_linked():
    rng = random.Random(21)
    nhs_a, upn_b = make_nhs(rng), make_upn(rng)
    con = new_store()
    add_person(con, "A", date(2012, 2, 2), nhs=nhs_a)
    add_person(con, "B", date(2012, 3, 3), upn=upn_b)
    add_record(con, "GP", "G9", nhs=nhs_a, upn=upn_b, dob=date(2012, 2, 2))

    summary = linkage.link_people(con)

    assert ("GP", "G9") not in links(con)
    assert sorted(con.execute("SELECT * FROM link_conflicts").fetchall()) == [
        ("GP", "G9", "A", "RECORD_MATCHES_TWO_CHILDREN"),
        ("GP", "G9", "B", "RECORD_MATCHES_TWO_CHILDREN"),
    ]
    assert summary.conflicts == 2
    # The record's identifiers reach neither child: it is linked to no one.
    assert sorted(con.execute("SELECT * FROM person_identifiers").fetchall()) == [
        ("A", "NHS_NUMBER", nhs_a),
        ("B", "UPN", upn_b),
    ]


def test_identifier_two_children_claim_links_nothing_and_is_a_conflict():
    rng = random.Random(22)
    shared, own = make_nhs(rng), make_upn(rng)
    con = new_store()
    add_person(con, "A", date(2012, 2, 2), nhs=shared, upn=own)
    add_person(con, "B", date(2013, 3, 3), nhs=shared)
    add_record(con, "GP", "G1", nhs=shared)
    add_record(con, "EDUCATION", "E1", upn=own)

    linkage.link_people(con, review_threshold=0.99)

    assert links(con) == {("EDUCATION", "E1"): ("A", "UPN")}
    assert con.execute("SELECT * FROM person_identifiers").fetchall() == [("A", "UPN", own)]
    assert sorted(con.execute("SELECT * FROM link_conflicts").fetchall()) == [
        ("SOCIAL_CARE", "A", "A", "IDENTIFIER_SHARED"),
        ("SOCIAL_CARE", "B", "B", "IDENTIFIER_SHARED"),
    ]


def test_linked_record_with_other_date_of_birth_is_linked_and_a_conflict():
    rng = random.Random(23)
    nhs = make_nhs(rng)
    con = new_store()
    add_person(con, "C1", date(2012, 2, 2), nhs=nhs)
    add_record(con, "GP", "G1", nhs=nhs, dob=date(2012, 2, 3))
    linkage.link_people(con)
    assert links(con) == {("GP", "G1"): ("C1", "NHS_NUMBER")}
    assert con.execute("SELECT * FROM link_conflicts").fetchall() == [("GP", "G1", "C1", "DOB_MISMATCH")]


# -- the model ---------------------------------------------------------------------------------


def test_probabilistic_match_with_typos_and_swapped_day_month(trained_model):
    con = new_store()
    populate(con)
    # A school record with no identifier: forename and surname mistyped, day and month swapped.
    add_person(con, "T1", date(2013, 4, 9), forename="Katherine", surname="Montgomery", sex="F", postcode="BS5 6HQ")
    add_record(
        con,
        "EDUCATION",
        "NEW1",
        forename="Kathrine",
        surname="Montgommery",
        dob=date(2013, 9, 4),
        sex="F",
        postcode="BS5 6HQ",
    )
    # Same birthday and postcode, another child entirely: must not link to T1.
    add_record(
        con, "EDUCATION", "NEW2", forename="Oscar", surname="Hughes", dob=date(2013, 4, 9), sex="M", postcode="BS5 6HQ"
    )

    summary = linkage.link_people(con, model_path=trained_model)

    assert summary.model == "loaded"
    assert links(con)[("EDUCATION", "NEW1")] == ("T1", "PROBABILISTIC")
    assert probability(con, "EDUCATION", "NEW1") >= 0.99
    assert links(con).get(("EDUCATION", "NEW2"), ("nobody",))[0] != "T1"
    # The swapped date is still a disagreement the school must correct.
    assert ("EDUCATION", "NEW1", "T1", "DOB_MISMATCH") in con.execute("SELECT * FROM link_conflicts").fetchall()


def test_model_links_the_population_accurately(trained_model):
    con = new_store()
    truth = populate(con)
    linkage.link_people(con, model_path=trained_model)
    found = {(a, r, p) for (a, r), (p, _) in links(con).items()}
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)
    assert any(m == "PROBABILISTIC" for _, m in links(con).values())


def test_model_is_saved_reused_and_retrained_on_request(tmp_path):
    path = tmp_path / "model.json"
    con = new_store()
    populate(con, n_children=120, seed=5)
    first = linkage.link_people(con, model_path=path)
    first_links = con.execute("SELECT * FROM person_links ORDER BY ALL").fetchall()
    assert first.model == "trained" and path.exists()
    assert path.stat().st_mode & 0o077 == 0
    saved = path.read_text()

    second = linkage.link_people(con, model_path=path)
    assert second.model == "loaded" and path.read_text() == saved

    third = linkage.link_people(con, model_path=path, retrain=True)
    assert third.model == "trained"
    # Seeded: retraining on the same data gives the same model and the same links (only the
    # training date differs).
    assert without_training_date(path.read_text()) == without_training_date(saved)
    assert con.execute("SELECT * FROM person_links ORDER BY ALL").fetchall() == first_links


def test_store_file_gets_model_beside_it(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    ensure_store(con)
    populate(con, n_children=60, seed=9)
    summary = linkage.link_people(con)
    con.close()
    assert summary.model_path == str(tmp_path / "store.linkage-model.json")
    assert (tmp_path / "store.linkage-model.json").exists()


def test_pairs_between_thresholds_become_possible_matches(trained_model):
    con = new_store()
    populate(con)
    add_person(con, "T2", date(2011, 10, 20), forename="Rosalind", surname="Fairweather", sex="F", postcode="BS7 8AB")
    # A mistyped surname: the exact name-and-DOB rule does not settle it, the model scores it.
    add_record(con, "GP", "MAYBE", forename="Rosalind", surname="Fairwether", dob=date(2011, 10, 20))
    linkage.link_people(con, model_path=trained_model)
    p = probability(con, "GP", "MAYBE")

    # Raise the match threshold above this pair's probability: it becomes a possible match.
    linkage.link_people(con, model_path=trained_model, match_threshold=min(1.0, p + (1 - p) / 2), review_threshold=0.5)
    assert ("GP", "MAYBE") not in links(con)
    [candidate] = [c for c in linkage.possible_matches(con) if c["agency_record_id"] == "MAYBE"]
    assert candidate["person_id"] == "T2" and candidate["match_probability"] == pytest.approx(p)
    assert "forename same" in candidate["evidence"] and "postcode missing" in candidate["evidence"]
    assert "Rosalind" not in candidate["evidence"]

    # Above the review threshold too: neither link nor possible match.
    linkage.link_people(con, model_path=trained_model, match_threshold=1.0, review_threshold=1.0)
    assert not [c for c in linkage.possible_matches(con) if c["agency_record_id"] == "MAYBE"]


# -- officers' decisions --------------------------------------------------------------------------


def test_officer_rejection_persists_across_runs(trained_model):
    con = new_store()
    populate(con)
    add_person(con, "T3", date(2010, 7, 15), forename="Beatrix", surname="Ashworth", sex="F", postcode="BS3 4PQ")
    add_record(
        con, "GP", "WRONG", forename="Beatrix", surname="Ashwort", dob=date(2010, 7, 15), sex="F", postcode="BS3 4PQ"
    )
    linkage.link_people(con, model_path=trained_model)
    assert links(con)[("GP", "WRONG")] == ("T3", "PROBABILISTIC")

    linkage.record_link_decision(
        con, "GP", "WRONG", "T3", "REJECTED", note="different child, same name", decided_by="officer1"
    )
    for _ in range(2):  # and on every later run
        linkage.link_people(con, model_path=trained_model)
        assert ("GP", "WRONG") not in links(con)
        assert not [c for c in linkage.possible_matches(con) if c["agency_record_id"] == "WRONG"]

    # A later confirmation of the same pair overrides the rejection.
    linkage.record_link_decision(con, "GP", "WRONG", "T3", "CONFIRMED")
    linkage.link_people(con, model_path=trained_model)
    assert links(con)[("GP", "WRONG")] == ("T3", "OFFICER_CONFIRMED")


def test_officer_decisions_win_over_identifiers():
    rng = random.Random(31)
    nhs_a = make_nhs(rng)
    con = new_store()
    add_person(con, "A", date(2012, 2, 2), nhs=nhs_a)
    add_person(con, "B", date(2012, 2, 2))
    add_record(con, "GP", "G1", nhs=nhs_a)  # the GP recorded A's NHS number against B
    linkage.record_link_decision(con, "GP", "G1", "A", "REJECTED")
    linkage.record_link_decision(con, "GP", "G1", "B", "CONFIRMED")
    linkage.link_people(con, review_threshold=0.99)
    assert links(con) == {("GP", "G1"): ("B", "OFFICER_CONFIRMED")}
    assert con.execute("SELECT count(*) FROM link_decisions").fetchall() == [(2,)]


def test_decision_must_name_a_real_record_child_and_decision():
    con = new_store()
    add_person(con, "A", date(2012, 2, 2))
    add_record(con, "GP", "G1")
    with pytest.raises(ValueError):
        linkage.record_link_decision(con, "GP", "G1", "A", "MAYBE")
    with pytest.raises(ValueError):
        linkage.record_link_decision(con, "GP", "NOPE", "A", "CONFIRMED")
    with pytest.raises(ValueError):
        linkage.record_link_decision(con, "GP", "G1", "NOBODY", "CONFIRMED")
    linkage.record_link_decision(con, "gp", "G1", "A", "confirmed")
    assert con.execute("SELECT agency, decision FROM link_decisions").fetchall() == [("GP", "CONFIRMED")]


# -- privacy and robustness ----------------------------------------------------------------------


def test_no_personal_data_in_logs_or_output(trained_model, caplog, capsys):
    con = new_store()
    populate(con)
    add_person(con, "T4", date(2012, 8, 30), forename="Zebedee", surname="Quartermaine", sex="M", postcode="BS9 9ZZ")
    add_record(con, "GP", "Z1", forename="Zebedee", surname="Quartermain", dob=date(2012, 8, 30), postcode="BS9 9ZZ")
    with caplog.at_level(logging.DEBUG):
        linkage.link_people(con, model_path=trained_model)
        linkage.link_people(con, model_path=trained_model, retrain=True)
    out = capsys.readouterr()
    text = caplog.text + out.out + out.err
    for secret in ("Zebedee", "zebedee", "quartermain", "2012-08-30", "BS9 9ZZ"):
        assert secret not in text
    assert "linkage:" in caplog.text  # the summary is logged, counts only


def test_failed_run_keeps_the_last_index():
    rng = random.Random(41)
    nhs = make_nhs(rng)
    con = new_store()
    add_person(con, "C1", date(2012, 2, 2), nhs=nhs)
    add_record(con, "GP", "G1", nhs=nhs)
    linkage.link_people(con)
    before = con.execute("SELECT * FROM person_links ORDER BY ALL").fetchall()
    with pytest.raises(ValueError):
        linkage.link_people(con, match_threshold=0.5, review_threshold=0.9)
    assert con.execute("SELECT * FROM person_links ORDER BY ALL").fetchall() == before


# -- the generator's small authority ---------------------------------------------------------------

GENERATED_AS_AT = date(2026, 11, 24)
GENERATED_TABLES = ("ssd_person", "ssd_address", "ssd_linked_identifiers", "agency_records", "ssd_cin_plans")


def truth_file(folder, name):
    """The generator keeps its truth beside the delivery, in ground_truth/ (older runs: in it)."""
    nested = folder / "ground_truth" / name
    return nested if nested.exists() else folder / name


@pytest.fixture(scope="module")
def small_authority(tmp_path_factory):
    """The committed small sample when it carries its truth, else a freshly generated one, loaded
    into a store (typed contract tables via read_csv: the generator's clean variant) and linked."""
    from caseflags.sample_data import SAMPLE_DELIVERY

    folder = SAMPLE_DELIVERY
    if not truth_file(folder, "truth_links.csv").exists():
        from caseflags.sample_data.generator import generate

        folder = tmp_path_factory.mktemp("small")
        generate("small", 1, folder, as_at=GENERATED_AS_AT)
    con = new_store()
    for table in GENERATED_TABLES:
        header = con.execute(
            "SELECT * FROM read_csv(?, header = true, all_varchar = true) LIMIT 0", [str(folder / f"{table}.csv")]
        )
        delivered = {d[0] for d in header.description}
        columns = ", ".join(
            f'"{c}"'
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if c in delivered
        )  # optional columns the sample does not carry stay NULL
        con.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM read_csv(?, header = true, all_varchar = true)",
            [str(folder / f"{table}.csv")],
        )
    con.execute(
        "CREATE TABLE truth_links AS SELECT agency, agency_record_id, nullif(person_id, '') AS person_id "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(truth_file(folder, "truth_links.csv"))],
    )
    con.execute(
        "CREATE TABLE truth AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
        [str(truth_file(folder, "truth.csv"))],
    )
    summary = linkage.link_people(con, model_path=tmp_path_factory.mktemp("small-model") / "model.json")
    yield con, summary
    con.close()


def test_small_authority_precision_and_recall_overall_and_per_method(small_authority):
    con, summary = small_authority
    rows = con.execute(
        """
        WITH judged AS (
            SELECT links.method, truth.person_id = links.person_id AS correct
            FROM person_links AS links
            JOIN truth_links AS truth USING (agency, agency_record_id)
            WHERE links.method <> 'LA_ID'
        )
        SELECT method, count(*), count(*) FILTER (WHERE correct) FROM judged GROUP BY ROLLUP (method)
        """
    ).fetchall()
    true_links = con.execute("SELECT count(*) FROM truth_links WHERE person_id IS NOT NULL").fetchall()[0][0]
    by_method = {method or "ALL": (links, correct) for method, links, correct in rows}
    links_made, correct = by_method.pop("ALL")
    assert correct / links_made >= 0.99 and correct / true_links >= 0.99, (correct, links_made, true_links)
    for method, (made, right) in by_method.items():
        assert right / made >= 0.99, method
    # Every method the authority needs is exercised, the model included.
    assert {"NHS_NUMBER", "UPN", "LINKED_IDENTIFIER", "LA_PERSON_ID", "PROBABILISTIC"} <= set(by_method)
    assert summary.model == "trained"
    # The model's recall: of the true links no identifier settled, how many it made.
    [(left_to_model, found_by_model)] = con.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE links.method = 'PROBABILISTIC')
        FROM truth_links AS truth
        LEFT JOIN person_links AS links USING (agency, agency_record_id, person_id)
        WHERE truth.person_id IS NOT NULL AND coalesce(links.method, 'PROBABILISTIC') = 'PROBABILISTIC'
        """
    ).fetchall()
    assert found_by_model / left_to_model >= 0.98, (found_by_model, left_to_model)


def test_small_authority_identity_checks_agree_with_truth(small_authority):
    from caseflags.checking.runner import run_check

    con, _ = small_authority
    for check_id in ("IDENTITY_UNMATCHED", "IDENTITY_CONFLICT"):
        found = {(r["person_id"], r["agency"], r["entity_id"]) for r in run_check(con, check_id, GENERATED_AS_AT)}
        expected = set(
            con.execute("SELECT person_id, agency, entity_id FROM truth WHERE check_id = ?", [check_id]).fetchall()
        )
        assert found <= expected, (check_id, found - expected)  # nothing false
        assert len(found & expected) >= 0.8 * len(expected), check_id


def test_retrain_on_request_even_when_identifiers_settle_everything(tmp_path):
    con = new_store()
    populate(con, n_children=60, seed=3)
    con.execute("DELETE FROM agency_records WHERE (nhs_number IS NULL AND upn IS NULL) OR agency_record_id LIKE 'X%'")
    path = tmp_path / "model.json"
    assert linkage.link_people(con, model_path=path).model == "not needed"
    assert not path.exists()
    assert linkage.link_people(con, model_path=path, retrain=True).model == "trained"
    assert path.exists()
