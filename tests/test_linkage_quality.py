"""Linkage quality rules of issue 26, each on a small fixture: no field silently dropped
(postcodes of any shape, sector and district), the exact name-and-DOB rule, one-to-one
assignment, twins and siblings by household probability, never-match identifiers, EM that
cannot collapse, and each field's match weight stored."""

from __future__ import annotations

import math
import random
from datetime import date

import duckdb
import pytest
from test_linkage import add_person, add_record, links, make_nhs, new_store, populate

from caseflags.linkage import people as linkage
from caseflags.linkage.model import PRIOR_M_PROBABILITIES, em_collapsed
from caseflags.resources import SQL_DIR

pytestmark = pytest.mark.slow  # trains or applies a splink model on a population: not in `make check`


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A model trained on the small authority of test_linkage (labels from identifiers)."""
    path = tmp_path_factory.mktemp("quality") / "model.json"
    con = new_store()
    populate(con)
    assert linkage.link_people(con, model_path=path).model == "trained"
    con.close()
    return path


def candidates(con) -> dict[tuple[str, str], dict]:
    rows = con.execute(
        "SELECT agency, agency_record_id, person_id, match_probability, evidence, kind, raw_probability "
        "FROM link_candidates"
    ).fetchall()
    return {
        (a, r): {"person_id": p, "probability": pr, "evidence": e, "kind": k, "raw": raw}
        for a, r, p, pr, e, k, raw in rows
    }


# -- no field silently dropped ------------------------------------------------------------------


def test_postcodes_of_any_shape_are_normalised_and_kept():
    con = duckdb.connect()
    con.execute((SQL_DIR / "linkage/macros.sql").read_text())
    rows = con.execute(
        """SELECT v, link_postcode(v) AS pc, link_postcode_is_uk(link_postcode(v)),
                  link_postcode_sector(link_postcode(v)), link_postcode_district(link_postcode(v))
           FROM (VALUES ('bs16 1qf'), ('BS161QF'), (' sw1a-1aa '), ('4011'), ('D02 X285'), ('  '), (NULL)) AS t(v)"""
    ).fetchall()
    assert rows == [
        ("bs16 1qf", "BS161QF", True, "BS161", "BS16"),
        ("BS161QF", "BS161QF", True, "BS161", "BS16"),
        (" sw1a-1aa ", "SW1A1AA", True, "SW1A1", "SW1A"),
        ("4011", "4011", False, "401", "40"),  # FEBRL's Australian postcode: kept, narrowed from the left
        ("D02 X285", "D02X285", False, "D02X28", "D02X2"),  # an Eircode
        ("  ", None, False, None, None),
        (None, None, False, None, None),
    ]


def test_a_postcode_from_abroad_is_compared_and_reported(model_path):
    con = new_store()
    populate(con)
    add_person(con, "AU1", date(2012, 3, 14), forename="Matilda", surname="Kowalczyk", sex="F", postcode="4011")
    # A mistyped surname keeps the record off the exact name-and-DOB rule: the model compares it.
    add_record(
        con, "POLICE", "AU-R1", forename="Matilda", surname="Kowalcyk", dob=date(2012, 3, 14), sex="F", postcode="4011"
    )
    add_record(
        con, "POLICE", "AU-R2", forename="Matilda", surname="Kowalcyk", dob=date(2012, 3, 14), sex="F", postcode="4019"
    )
    summary = linkage.link_people(con, model_path=model_path)
    weights = dict(
        con.execute(
            "SELECT agency_record_id, level FROM link_match_weights WHERE comparison = 'postcode' AND person_id = 'AU1'"
        ).fetchall()
    )
    assert weights["AU-R1"] == "postcode same"
    assert weights["AU-R2"] == "postcode sector same"  # the full postcode differs: its sector is compared
    assert summary.postcodes_not_uk_shaped == {"POLICE": 2, "SOCIAL_CARE": 1}


def test_names_in_any_script_are_compared_not_dropped():
    con = duckdb.connect()
    con.execute((SQL_DIR / "linkage/macros.sql").read_text())
    rows = con.execute(
        "SELECT link_name(v) FROM (VALUES (1, 'Zoë'), (2, 'O''Brien'), (3, 'Иван'), (4, 'محمد'), (5, ' - ')) t(n, v) "
        "ORDER BY n"
    ).fetchall()
    assert rows == [("zoe",), ("obrien",), ("иван",), ("محمد",), (None,)]


# -- deterministic before the model ---------------------------------------------------------------


def test_exact_name_and_dob_unique_on_both_sides_links_before_the_model():
    con = new_store()
    add_person(con, "C1", date(2013, 5, 6), forename="Esme", surname="Okonkwo", sex="F", postcode="BS5 6HQ")
    add_person(con, "C2", date(2014, 1, 2), forename="Jay", surname="Smith", sex="M")
    add_person(con, "C3", date(2014, 1, 2), forename="Jay", surname="Smith", sex="M")  # not unique among children
    add_person(con, "C4", date(2011, 8, 9), forename="Rory", surname="Dunne", sex="M", postcode="BS5 6HQ")
    add_record(con, "GP", "G1", forename="ESME", surname="okonkwo", dob=date(2013, 5, 6), sex="F", postcode="bs56hq")
    add_record(con, "GP", "G2", forename="Jay", surname="Smith", dob=date(2014, 1, 2), sex="M")
    add_record(con, "GP", "G4", forename="Rory", surname="Dunne", dob=date(2011, 8, 9), sex="F")  # sex differs
    add_record(con, "EDUCATION", "E4a", forename="Rory", surname="Dunne", dob=date(2011, 8, 9))
    add_record(con, "EDUCATION", "E4b", forename="Rory", surname="Dunne", dob=date(2011, 8, 9))  # not unique in agency
    linkage.link_people(con, review_threshold=0.99)
    found = links(con)
    assert found[("GP", "G1")] == ("C1", "NAME_DOB")
    assert not any(method == "NAME_DOB" for _, method in found.values() if _ != "C1")


def test_a_different_valid_nhs_number_never_matches(model_path):
    con = new_store()
    populate(con)
    rng = random.Random(41)
    held, other = make_nhs(rng), make_nhs(rng)
    add_person(
        con, "N1", date(2010, 6, 1), forename="Ottilie", surname="Brennan", sex="F", nhs=held, postcode="BS3 4PQ"
    )
    add_record(
        con,
        "GP",
        "N-REC",
        nhs=other,
        forename="Ottilie",
        surname="Brennan",
        dob=date(2010, 6, 1),
        sex="F",
        postcode="BS3 4PQ",
    )
    linkage.link_people(con, model_path=model_path)
    assert ("GP", "N-REC") not in links(con)
    assert ("GP", "N-REC") not in candidates(con)


# -- one to one ----------------------------------------------------------------------------------


def test_a_child_gets_at_most_one_record_per_agency_and_a_record_one_child(model_path):
    con = new_store()
    populate(con)
    add_person(con, "O1", date(2012, 7, 21), forename="Beatrice", surname="Fairbanks", sex="F", postcode="BS7 8AB")
    # Two unsettled records of one agency, both like the child; the closer one wins.
    add_record(
        con,
        "POLICE",
        "P-BEST",
        forename="Beatrice",
        surname="Fairbank",
        dob=date(2012, 7, 21),
        sex="F",
        postcode="BS7 8AB",
    )
    add_record(
        con,
        "POLICE",
        "P-NEXT",
        forename="Beatrix",
        surname="Fairbank",
        dob=date(2012, 7, 21),
        sex="F",
        postcode="BS7 8AD",
    )
    linkage.link_people(con, model_path=model_path)
    found = links(con)
    assert found[("POLICE", "P-BEST")] == ("O1", "PROBABILISTIC")
    assert ("POLICE", "P-NEXT") not in found
    assert candidates(con)[("POLICE", "P-NEXT")]["person_id"] == "O1"  # offered, beside the record the child has
    per_child = con.execute(
        "SELECT person_id, agency, count(*) FROM person_links WHERE method <> 'LA_ID' GROUP BY ALL HAVING count(*) > 1"
    ).fetchall()
    assert per_child == []


# -- twins and siblings ---------------------------------------------------------------------------


def test_a_twin_is_offered_only_as_a_possible_sibling_with_its_household_probability(model_path):
    con = new_store()
    populate(con)
    rng = random.Random(43)
    nhs = make_nhs(rng)
    add_person(
        con, "TW", date(2015, 2, 3), forename="Harriet", surname="Lockwood", sex="F", nhs=nhs, postcode="BS9 1AB"
    )
    add_record(
        con,
        "GP",
        "TW-OWN",
        nhs=nhs,
        forename="Harriet",
        surname="Lockwood",
        dob=date(2015, 2, 3),
        sex="F",
        postcode="BS9 1AB",
    )
    # Her twin sister, unknown to social care, in the same practice without an NHS number.
    add_record(
        con,
        "GP",
        "TW-SISTER",
        forename="Philippa",
        surname="Lockwood",
        dob=date(2015, 2, 3),
        sex="F",
        postcode="BS9 1AB",
    )
    # Another child with no GP record of her own, and a twin-shaped record: still not linked.
    add_person(con, "LONE", date(2016, 9, 9), forename="Maisie", surname="Underhill", sex="F", postcode="BS9 2CD")
    add_record(
        con,
        "GP",
        "LONE-TWIN",
        forename="Rosalind",
        surname="Underhill",
        dob=date(2016, 9, 9),
        sex="F",
        postcode="BS9 2CD",
    )
    linkage.link_people(con, model_path=model_path)
    found, offered = links(con), candidates(con)
    assert found[("GP", "TW-OWN")] == ("TW", "NHS_NUMBER")
    for record in ("TW-SISTER", "LONE-TWIN"):
        assert ("GP", record) not in found
        candidate = offered.get(("GP", record))
        if candidate is not None:
            assert candidate["kind"] == "POSSIBLE_SIBLING"
            assert candidate["evidence"].startswith("possible sibling (probably a different child)")
            # The real probability, far below what the agreeing fields alone would give.
            assert candidate["probability"] < 0.9 and candidate["raw"] >= 0.99
            assert (
                math.log2(candidate["raw"] / (1 - candidate["raw"]))
                - math.log2(candidate["probability"] / (1 - candidate["probability"]))
                > 5
            )
    assert offered[("GP", "TW-SISTER")]["probability"] < 0.05  # she already has her own GP record


def test_a_one_letter_slip_in_a_forename_is_not_another_child(model_path):
    con = new_store()
    populate(con)
    add_person(con, "IVY", date(2015, 8, 5), forename="Ivy", surname="Pemberton", sex="F", postcode="BS6 5GL")
    add_record(
        con, "EDUCATION", "IY", forename="Iy", surname="Pemberton", dob=date(2015, 8, 5), sex="F", postcode="BS6 5GL"
    )
    linkage.link_people(con, model_path=model_path)
    assert links(con)[("EDUCATION", "IY")] == ("IVY", "PROBABILISTIC")


# -- the model --------------------------------------------------------------------------------------


def test_an_em_estimate_far_below_the_prior_is_not_credible():
    dob_prior = PRIOR_M_PROBABILITIES["dob"]
    assert em_collapsed("dob", (0.024, 0.3, 0.3, 0.376))  # what EM gave on names-and-DOB data
    assert not em_collapsed("dob", (0.89, 0.02, 0.02, 0.07))
    assert not em_collapsed("dob", (None, None, None, None))
    assert dob_prior[0] > 0.9


def test_each_field_match_weight_is_stored_and_adds_up(model_path):
    con = new_store()
    populate(con)
    linkage.link_people(con, model_path=model_path)
    pairs = con.execute(
        """SELECT l.agency, l.agency_record_id, l.match_probability, sum(w.match_weight), count(*),
                  string_agg(w.comparison, ',' ORDER BY w.position)
           FROM person_links AS l JOIN link_match_weights AS w USING (agency, agency_record_id, person_id)
           WHERE l.method = 'PROBABILISTIC' GROUP BY ALL"""
    ).fetchall()
    assert pairs
    for _, _, probability, total, count, order in pairs:
        assert count == 6 and order == "prior,forename,surname,dob,sex,postcode"
        if probability < 1 - 1e-9:
            assert total == pytest.approx(math.log2(probability / (1 - probability)), abs=1e-6)
    # Possible matches carry theirs too.
    assert (
        con.execute(
            "SELECT count(*) FROM link_candidates ANTI JOIN link_match_weights "
            "USING (agency, agency_record_id, person_id)"
        ).fetchone()[0]
        == 0
    )


def test_cli_says_why_a_record_is_linked(tmp_path, model_path):
    from typer.testing import CliRunner

    from caseflags.cli import app
    from caseflags.store.database import connect, ensure_store

    db = tmp_path / "store.duckdb"
    con = connect(db)
    ensure_store(con)
    populate(con)
    add_person(con, "W1", date(2013, 4, 9), forename="Katherine", surname="Montgomery", sex="F", postcode="BS5 6HQ")
    add_record(
        con,
        "EDUCATION",
        "W-REC",
        forename="Kathrine",
        surname="Montgommery",
        dob=date(2013, 9, 4),
        sex="F",
        postcode="BS5 6HQ",
    )
    linkage.link_people(con, model_path=model_path)
    con.close()
    result = CliRunner().invoke(app, ["links", "why", "EDUCATION", "W-REC", "W1", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "linked by PROBABILISTIC" in result.output
    assert "DOB day/month swapped" in result.output and "prior" in result.output and "total" in result.output
    missing = CliRunner().invoke(app, ["links", "why", "EDUCATION", "W-REC", "P0001", "--db", str(db)])
    assert missing.exit_code == 2
