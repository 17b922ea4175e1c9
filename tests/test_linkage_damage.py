"""Linkage on damaged data: blocking that survives each kind of damage on its own; a partner
record whose DOB does not parse is kept (DOB missing, raw text in data_quality_warnings) and
linked on its other fields, while social care's own pers_dob stays required; the model's
parameters, training method and date in the store and in `caseflags links model`."""

from __future__ import annotations

import csv
from datetime import date

import polars as pl
import pytest
from test_linkage import add_person, add_record, links, new_store, populate
from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.ingest.extracts import parse_extract
from caseflags.linkage import people as linkage
from caseflags.linkage.blocking import BLOCKING_RULES, blocking_recall
from caseflags.linkage.parameters import describe_model
from caseflags.linkage.scoring import SCORE_COLUMNS
from caseflags.outputs.report import linkage_section
from caseflags.store.database import connect, ensure_store
from caseflags.store.publish import record_data_quality_warnings

pytestmark = pytest.mark.slow  # trains or applies a splink model on a population: not in `make check`

CHILD = dict(forename="Rebecca", surname="Thornbury", dob=date(2013, 4, 7), postcode="BS16 1QF")

# One kind of damage each (the list): the union of blocking rules must still reach it.
DAMAGED = {
    "surname": dict(CHILD, surname="Thornbuyr"),
    "day_month_swapped": dict(CHILD, dob=date(2013, 7, 4)),
    "dob_typo_year": dict(CHILD, dob=date(2018, 4, 7)),
    "dob_typo_day": dict(CHILD, dob=date(2013, 4, 8)),
    "no_forename": dict(CHILD, forename=None),
    "no_surname": dict(CHILD, surname=None),
    "postcode_changed": dict(CHILD, postcode="M1 1AE"),
    "names_swapped": dict(CHILD, forename="Thornbury", surname="Rebecca"),
    "nickname": dict(CHILD, forename="Becky"),
    "nickname_and_dob_typo": dict(CHILD, forename="Becky", dob=date(2013, 4, 9), postcode="M1 1AE"),
    "dob_unknown_and_postcode_changed": dict(CHILD, dob=None, postcode="M1 1AE"),
}


def test_each_kind_of_damage_is_still_a_candidate_pair():
    con = new_store()
    add_person(
        con, "C1", CHILD["dob"], forename=CHILD["forename"], surname=CHILD["surname"], postcode=CHILD["postcode"]
    )
    for record_id, fields in DAMAGED.items():
        add_record(con, "POLICE", record_id, **fields)
    con.execute(
        "CREATE TABLE true_pairs AS SELECT 'POLICE' AS agency, agency_record_id, 'C1' AS person_id FROM agency_records"
    )
    linkage.prepare_inputs(con)
    result = blocking_recall(con, "linkage_children", "linkage_records", "true_pairs")
    linkage.drop_work_tables(con)
    assert result["true_pairs"] == len(DAMAGED)
    assert result["reached"] == len(DAMAGED), result
    assert set(result["by_rule"]) == {name for name, _ in BLOCKING_RULES}
    # No single rule does it alone.
    assert max(result["by_rule"].values()) < len(DAMAGED)


def write_csv(path, header, rows):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_unparseable_partner_dob_is_kept_and_warned_but_a_childs_is_not(tmp_path):
    records = tmp_path / "agency_records.csv"
    write_csv(
        records,
        [
            "agency",
            "agency_record_id",
            "nhs_number",
            "upn",
            "la_person_id",
            "forename",
            "surname",
            "dob",
            "sex",
            "postcode",
        ],
        [
            ["POLICE", "P1", "", "", "", "Rebecca", "Thornbury", "31/02/2013", "F", "BS16 1QF"],
            ["POLICE", "P2", "", "", "", "Sam", "Jones", "2013-04-07", "M", "BS16 1QF"],
        ],
    )
    parsed = parse_extract(records, "agency_records")
    assert parsed.rows_loaded == 2 and parsed.rows_quarantined == 0
    kept = parsed.data.filter(parsed.data["agency_record_id"] == "P1").row(0, named=True)
    assert kept["dob"] is None and kept["forename"] == "Rebecca"
    [warning] = parsed.warnings.to_dicts()
    assert (warning["column_name"], warning["raw_value"], warning["line"]) == ("dob", "31/02/2013", 2)
    assert "unparseable date" in warning["reason"]

    people = tmp_path / "ssd_person.csv"
    write_csv(
        people,
        [
            "pers_person_id",
            "pers_upn",
            "pers_single_unique_id",
            "pers_forename",
            "pers_surname",
            "pers_dob",
            "pers_sex",
            "pers_send_flag",
        ],
        [["C1", "", "", "Rebecca", "Thornbury", "31/02/2013", "F", ""]],
    )
    child = parse_extract(people, "ssd_person")
    assert child.rows_loaded == 0 and child.rows_quarantined == 1 and child.warnings.height == 0

    con = connect()
    ensure_store(con)
    record_data_quality_warnings(con, "RUN1", [parsed.warnings.with_columns(table_name=pl.lit("agency_records"))])
    assert con.execute(
        "SELECT run_id, table_name, file, line, column_name, raw_value FROM data_quality_warnings"
    ).fetchall() == [("RUN1", "agency_records", "agency_records.csv", 2, "dob", "31/02/2013")]


def test_record_without_a_dob_links_on_its_other_fields(tmp_path):
    con = new_store()
    populate(con)
    add_person(con, "T9", date(2012, 5, 17), forename="Ottoline", surname="Fairweather", sex="F", postcode="BS7 8QL")
    add_record(con, "POLICE", "NODOB", forename="Ottoline", surname="Fairweather", sex="F", postcode="BS7 8QL")
    linkage.link_people(con, model_path=tmp_path / "model.json")
    assert links(con)[("POLICE", "NODOB")] == ("T9", "PROBABILISTIC")


def test_model_parameters_method_and_date_are_in_the_store_and_the_cli(tmp_path):
    db = tmp_path / "store.duckdb"
    con = connect(db)
    ensure_store(con)
    populate(con)
    add_person(con, "T8", date(2011, 3, 3), forename="Zebedee", surname="Quartermaine", postcode="BS9 9ZZ")
    linkage.link_people(con, model_path=tmp_path / "model.json")
    model = describe_model(con)
    con.execute(
        "INSERT INTO data_quality_warnings VALUES ('RUN1', 'agency_records', 'agency_records.csv', 7, 'dob', "
        "'unparseable date (expected YYYY-MM-DD or DD/MM/YYYY)', '31/02/2011')"
    )
    section = linkage_section(con, "RUN1")
    con.close()
    assert 'id="linkage"' in section and model["training_method"] in section and "expected precision" in section
    assert "unparseable date" in section and "31/02/2011" not in section  # counts, not the raw values
    assert "Zebedee" not in section and "BS9 9ZZ" not in section
    assert model["training_method"] in ("LABELS", "LABELS+EM") and model["labelled_pairs"] >= 30
    assert model["trained_at"]
    assert {lv["comparison"] for lv in model["levels"]} == {"forename", "surname", "dob", "sex", "postcode"}
    assert all(0 < lv["m_probability"] < 1 and 0 < lv["u_probability"] < 1 for lv in model["levels"])
    match, review = model["expected_quality"]
    assert match["threshold_name"] == "match" and match["labelled_pairs"] >= 30
    assert match["expected_precision"] >= 0.99 and review["expected_recall"] >= match["expected_recall"]

    result = CliRunner().invoke(app, ["links", "model", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert model["training_method"] in result.output and "expected quality" in result.output
    for secret in ("Zebedee", "zebedee", "Quartermaine", "BS9 9ZZ", "2011-03-03"):
        assert secret not in result.output


def test_one_record_per_child_and_agency_and_a_conflicting_identifier_never_matches(tmp_path):
    """One to one (issue 26): the child's exact record links; a second record of the same agency
    (a nickname: perhaps a duplicate registration) waits for officers beside the record the
    child already has; a twin of the other sex is not linked; a record carrying another valid
    UPN than the child's is never matched, however alike (neither linked nor offered)."""
    import random

    from test_linkage import make_upn

    con = new_store()
    populate(con)
    rng = random.Random(3)
    child_upn, other_upn = make_upn(rng), make_upn(rng)
    add_person(
        con,
        "TW1",
        date(2015, 6, 20),
        forename="Florence",
        surname="Ashdown",
        sex="F",
        postcode="BS5 7PL",
        upn=child_upn,
    )
    add_record(
        con, "GP", "OWN1", forename="Florence", surname="Ashdown", dob=date(2015, 6, 20), sex="F", postcode="BS5 7PL"
    )
    add_record(
        con, "GP", "OWN2", forename="Florrie", surname="Ashdown", dob=date(2015, 6, 20), sex="F", postcode="BS5 7PL"
    )
    add_record(con, "GP", "TWIN", forename="Kai", surname="Ashdown", dob=date(2015, 6, 20), sex="M", postcode="BS5 7PL")
    add_record(
        con,
        "EDUCATION",
        "OTHERUPN",
        upn=other_upn,
        forename="Florence",
        surname="Ashdown",
        dob=date(2015, 6, 20),
        sex="F",
        postcode="BS5 7PL",
    )
    linkage.link_people(con, model_path=tmp_path / "model.json")
    made = links(con)
    assert made[("GP", "OWN1")] == ("TW1", "NAME_DOB")
    assert ("GP", "OWN2") not in made and ("GP", "TWIN") not in made and ("EDUCATION", "OTHERUPN") not in made
    waiting = {(c["agency_record_id"], c["person_id"]): c for c in linkage.possible_matches(con)}
    assert ("OWN2", "TW1") in waiting
    assert ("OTHERUPN", "TW1") not in waiting
    if ("TWIN", "TW1") in waiting:
        assert waiting[("TWIN", "TW1")]["kind"] == "POSSIBLE_SIBLING"


def test_resolution_links_one_record_per_child_and_never_a_twin():
    """The resolution step alone on scores given to it: two records of one agency above the
    threshold for one child: the better is linked, the other waits; a third, a twin (same
    surname, DOB and postcode, another forename, the other sex), waits whatever its raw score."""
    con = new_store()
    add_person(con, "TW1", date(2015, 6, 20), forename="Florence", surname="Ashdown", sex="F")
    for record in ("OWN1", "OWN2", "TWIN"):
        add_record(con, "GP", record, surname="Ashdown", dob=date(2015, 6, 20))
    linkage.prepare_inputs(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE linkage_scores ({SCORE_COLUMNS})")
    # agency, record, child, probability, evidence, sex agrees, forenames close, match weight,
    # gammas (forename, surname, dob, sex, postcode), weights (same order)
    con.execute("""INSERT INTO linkage_scores VALUES
        ('GP', 'OWN1', 'TW1', 0.9999, 'sex same', true, true, 13.3, 5, 4, 3, 1, 3, 6, 6, 9, 1, 4),
        ('GP', 'OWN2', 'TW1', 0.995, 'sex missing', true, false, 7.6, 3, 4, 3, -1, 3, 3, 6, 9, 0, 4),
        ('GP', 'TWIN', 'TW1', 0.9997, 'sex differs', false, false, 11.7, 0, 4, 3, 0, 3, -3, 6, 9, -5, 4)""")
    linkage._run_sql_file(
        con,
        linkage.RESOLVE_SQL,
        {
            "match_threshold": 0.99,
            "review_threshold": 0.80,
            "match_weight_threshold": linkage.match_weight(0.99),
            **linkage.household_parameters(None, 1),
        },
    )
    linkage._assign_one_to_one(con)
    linkage._run_sql_file(
        con, linkage.OUTPUTS_SQL, {"match_threshold": 0.99, "review_threshold": 0.80, "offer_contradicted": False}
    )
    accepted = {r[0] for r in con.execute("SELECT agency_record_id FROM linkage_accepted_pairs").fetchall()}
    waiting = dict(con.execute("SELECT agency_record_id, kind FROM linkage_possible_matches").fetchall())
    linkage.drop_work_tables(con)
    assert accepted == {"OWN1"} and waiting == {"OWN2": "POSSIBLE_MATCH", "TWIN": "POSSIBLE_SIBLING"}
