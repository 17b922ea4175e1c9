"""IDENTITY_CONFLICT: partner records that disagree with the LA child on identity, as found by
linkage (link_conflicts). The conflicts are produced by running the real linkage on small
fixtures that identifiers alone settle, so no model is trained here."""

from datetime import date

import nhs_number
from check_fixtures import AS_AT, add_cin_plan, insert, new_store

from caseflags.checking.runner import run_check
from caseflags.contracts.identifiers import upn_check_letter
from caseflags.linkage.people import link_people

CHECK = "IDENTITY_CONFLICT"


def nhs(serial: int) -> str:
    first_nine = f"{400000000 + serial * 7:09d}"
    while nhs_number.calculate_checksum(first_nine) >= 10:
        first_nine = f"{int(first_nine) + 1:09d}"
    return first_nine + str(nhs_number.calculate_checksum(first_nine))


def upn(serial: int) -> str:
    body = f"{938000000000 + serial:012d}"
    return upn_check_letter(body) + body


def child(con, person_id, dob, *, cin=True, **identifiers):
    insert(con, "ssd_person", pers_person_id=person_id, pers_dob=dob, **identifiers)
    if cin:
        add_cin_plan(con, person_id, f"P-{person_id}", date(2026, 1, 5))


def record(con, agency, record_id, **values):
    insert(con, "agency_records", agency=agency, agency_record_id=record_id, **values)


def rows_by_key(con):
    return {(r["person_id"], r["agency"], r["entity_type"], r["entity_id"]): r for r in run_check(con, CHECK, AS_AT)}


def test_record_matching_two_children_gives_a_row_for_each_child():
    con = new_store()
    child(con, "A", date(2012, 2, 2), pers_single_unique_id=nhs(1))
    child(con, "B", date(2013, 3, 3), pers_upn=upn(2))
    record(con, "GP", "G9", nhs_number=nhs(1), upn=upn(2))
    link_people(con)
    rows = rows_by_key(con)
    assert set(rows) == {("A", "GP", "agency_record", "G9"), ("B", "GP", "agency_record", "G9")}
    for row in rows.values():
        assert row["severity"] == "HIGH"
        assert "match more than one LA child" in row["detail"]
        assert row["locator"].startswith("agency_records.agency=GP, agency_record_id=G9")


def test_linked_record_with_other_date_of_birth_is_medium():
    con = new_store()
    child(con, "A", date(2012, 2, 2), pers_single_unique_id=nhs(3))
    record(con, "COMMUNITY_HEALTH", "H1", nhs_number=nhs(3), dob=date(2012, 2, 20))
    record(con, "GP", "G1", nhs_number=nhs(3), dob=date(2012, 2, 2))  # agrees
    record(con, "ACUTE_HEALTH", "AC1", nhs_number=nhs(3))  # no date of birth: unknown, not a disagreement
    link_people(con)
    [(key, row)] = rows_by_key(con).items()
    assert key == ("A", "COMMUNITY_HEALTH", "agency_record", "H1")
    assert row["severity"] == "MEDIUM"
    assert "date of birth differs" in row["detail"]
    assert "2012" not in row["detail"]


def test_identifier_held_for_two_children_is_owned_by_social_care():
    con = new_store()
    child(con, "A", date(2012, 2, 2), pers_single_unique_id=nhs(4))
    child(con, "B", date(2014, 4, 4), pers_single_unique_id=nhs(4))
    link_people(con)
    rows = rows_by_key(con)
    assert set(rows) == {("A", "SOCIAL_CARE", "agency_record", "A"), ("B", "SOCIAL_CARE", "agency_record", "B")}
    assert rows[("A", "SOCIAL_CARE", "agency_record", "A")]["locator"] == "ssd_person.pers_person_id=A"
    assert all(r["severity"] == "HIGH" for r in rows.values())


def test_only_children_in_need_at_as_at():
    con = new_store()
    child(con, "A", date(2012, 2, 2), cin=False, pers_single_unique_id=nhs(5))
    record(con, "GP", "G1", nhs_number=nhs(5), dob=date(2012, 3, 3))
    link_people(con)
    assert con.execute("SELECT count(*) FROM link_conflicts").fetchall() == [(1,)]
    assert run_check(con, CHECK, AS_AT) == []


def test_officer_settles_the_link_and_the_agency_then_corrects_the_identifier():
    from caseflags.linkage.people import record_link_decision

    con = new_store()
    child(con, "A", date(2012, 2, 2), pers_single_unique_id=nhs(6))
    child(con, "B", date(2012, 2, 2), pers_upn=upn(7))
    record(con, "GP", "G9", nhs_number=nhs(6), upn=upn(7), dob=date(2012, 2, 2))
    link_people(con)
    assert len(run_check(con, CHECK, AS_AT)) == 2
    record_link_decision(con, "GP", "G9", "B", "REJECTED", note="UPN keyed against the wrong child")
    link_people(con)
    gp_links = con.execute("SELECT person_id, method FROM person_links WHERE agency = 'GP'").fetchall()
    assert gp_links == [("A", "NHS_NUMBER")]
    # Linked to A, the record still carries B's UPN: that stays a conflict until the GP corrects it.
    rows = rows_by_key(con)
    assert set(rows) == {("A", "GP", "agency_record", "G9"), ("B", "SOCIAL_CARE", "agency_record", "B")}
    assert all("also held for another LA child" in r["detail"] for r in rows.values())
    con.execute("UPDATE agency_records SET upn = NULL WHERE agency_record_id = 'G9'")
    link_people(con)
    assert run_check(con, CHECK, AS_AT) == []
