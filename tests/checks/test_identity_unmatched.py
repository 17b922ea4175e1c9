"""IDENTITY_UNMATCHED: a CiN child expected in a partner's records (GP always; EDUCATION when of
compulsory school age) with no linked record there.

AS_AT is 24 November 2026; the 31 August before it is 31 August 2026, so a child born
1 September 2021 is 4 then (Reception, not of compulsory school age) and one born
31 August 2021 is 5 (Year 1).
"""

from datetime import date

import pytest
from check_fixtures import AS_AT, add_child, insert, link, new_store

from caseflags.checking.runner import CheckNotEvaluated, run_check

CHECK = "IDENTITY_UNMATCHED"
SCHOOL_AGE_DOB = date(2014, 3, 1)


@pytest.fixture
def con():
    store = new_store()
    # Both agencies delivered their person index (records of other children).
    insert(store, "agency_records", agency="GP", agency_record_id="GP-OTHER")
    insert(store, "agency_records", agency="EDUCATION", agency_record_id="ED-OTHER")
    yield store
    store.close()


def keys(rows):
    return {(r["person_id"], r["agency"], r["entity_type"], r["entity_id"]) for r in rows}


def test_school_age_child_unknown_to_gp_and_school_gets_one_row_per_agency(con):
    add_child(con, "C1", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5))
    rows = run_check(con, CHECK, AS_AT)
    assert keys(rows) == {("C1", "GP", "child_agency", "GP"), ("C1", "EDUCATION", "child_agency", "EDUCATION")}
    assert {r["severity"] for r in rows} == {"MEDIUM"}
    gp = next(r for r in rows if r["agency"] == "GP")
    assert "No GP record" in gp["detail"] and "no valid NHS number" in gp["detail"]
    assert gp["locator"] == "ssd_person.pers_person_id=C1; person_links.agency=GP"


def test_linked_records_satisfy_the_check(con):
    add_child(con, "C1", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5), nhs="N1", upn="U1")
    link(con, "GP", "GP-1", "C1")
    link(con, "EDUCATION", "ED-1", "C1")
    assert run_check(con, CHECK, AS_AT) == []


def test_education_expected_only_from_compulsory_school_age(con):
    add_child(con, "AGE4", date(2021, 9, 1), cin_from=date(2026, 1, 5))
    add_child(con, "AGE5", date(2021, 8, 31), cin_from=date(2026, 1, 5))
    add_child(con, "AGE16", date(2010, 8, 31), cin_from=date(2026, 1, 5))  # 16 on 31 August: past Year 11
    for child in ("AGE4", "AGE5", "AGE16"):
        link(con, "GP", f"GP-{child}", child)
    assert keys(run_check(con, CHECK, AS_AT)) == {("AGE5", "EDUCATION", "child_agency", "EDUCATION")}


def test_only_children_in_need_at_as_at(con):
    add_child(con, "ENDED", SCHOOL_AGE_DOB, cin_from=date(2025, 1, 5), cin_to=date(2026, 11, 24))
    add_child(con, "FUTURE", SCHOOL_AGE_DOB, cin_from=date(2026, 11, 25))
    add_child(con, "NOPLAN", SCHOOL_AGE_DOB)
    add_child(con, "OPEN", SCHOOL_AGE_DOB, cin_from=date(2026, 11, 24))
    assert {r["person_id"] for r in run_check(con, CHECK, AS_AT)} == {"OPEN"}


def test_agency_that_delivered_no_records_is_not_expected():
    store = new_store()
    insert(store, "agency_records", agency="GP", agency_record_id="GP-OTHER")  # no education index at all
    add_child(store, "C1", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5))
    assert keys(run_check(store, CHECK, AS_AT)) == {("C1", "GP", "child_agency", "GP")}


def test_detail_points_to_possible_matches_awaiting_review(con):
    add_child(con, "C1", SCHOOL_AGE_DOB, cin_from=date(2026, 1, 5), upn="U1")
    con.execute("UPDATE ssd_person SET pers_forename = 'Zebedee', pers_surname = 'Quartermaine'")
    link(con, "GP", "GP-1", "C1")
    insert(
        con,
        "agency_records",
        agency="EDUCATION",
        agency_record_id="ED-CAND",
        forename="Zeb",
        surname="Quatermain",
        dob=date(2014, 3, 2),
    )
    insert(
        con,
        "link_candidates",
        agency="EDUCATION",
        agency_record_id="ED-CAND",
        person_id="C1",
        match_probability=0.9,
        evidence="forename same",
    )
    [row] = run_check(con, CHECK, AS_AT)
    assert row["agency"] == "EDUCATION"
    assert "1 possible match(es) in your records await a decision" in row["detail"]
    # the partner's own record, from its own data; never the LA's name for the child
    assert "ED-CAND (Zeb Quatermain, born 2014-03-02)" in row["detail"]
    assert "Zebedee" not in row["detail"] and "Quartermaine" not in row["detail"]


def test_detail_names_no_personal_data(con):
    insert(
        con,
        "ssd_person",
        pers_person_id="C1",
        pers_dob=SCHOOL_AGE_DOB,
        pers_forename="Zebedee",
        pers_surname="Quartermaine",
        pers_single_unique_id="9434765919",
    )
    insert(con, "ssd_cin_plans", cinp_cin_plan_id="P1", cinp_person_id="C1", cinp_cin_plan_start_date=date(2026, 1, 5))
    for row in run_check(con, CHECK, AS_AT):
        text = row["detail"] + row["locator"]
        assert "Zebedee" not in text and "2014" not in text and "9434765919" not in text


def test_not_evaluated_before_linkage_has_run():
    store = new_store()
    store.execute("DROP TABLE IF EXISTS link_candidates")
    with pytest.raises(CheckNotEvaluated, match="link_candidates"):
        run_check(store, CHECK, AS_AT)
