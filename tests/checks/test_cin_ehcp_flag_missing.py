from datetime import date

from check_fixtures import AS_AT, add_child, add_ehcp, add_flag, link

from caseflags.checking.runner import run_check


def _rows(con):
    return {(row["agency"], row["entity_id"]): row for row in run_check(con, "CIN_EHCP_FLAG_MISSING", AS_AT)}


def _cin_child_with_ehcp(con, person_id="C1", send_flag=None, ehcp_start=date(2024, 3, 1), ceased=None):
    add_child(con, person_id, date(2013, 2, 1), cin_from=date(2026, 2, 2), upn=f"U-{person_id}", send_flag=send_flag)
    add_ehcp(con, f"U-{person_id}", ehcp_start, ceased=ceased)


def test_fires_for_each_agency_lacking_its_flag(store):
    _cin_child_with_ehcp(store)
    link(store, "EDUCATION", "ED1", "C1")
    link(store, "GP", "GP1", "C1")
    link(store, "POLICE", "PO1", "C1")
    add_flag(store, "POLICE", "PO1", "CIN", date(2026, 2, 10))
    rows = _rows(store)
    assert set(rows) == {("SOCIAL_CARE", "C1:EHCP"), ("EDUCATION", "ED1:CIN"), ("GP", "GP1:CIN")}
    assert all(row["entity_type"] == "agency_record" and row["person_id"] == "C1" for row in rows.values())
    assert "pers_send_flag" in rows[("SOCIAL_CARE", "C1:EHCP")]["detail"]
    gp = rows[("GP", "GP1:CIN")]
    assert "2026-02-02" in gp["detail"] and "2024-03-01" in gp["detail"]
    assert "ED1" not in gp["detail"] + gp["locator"]  # never another agency's record id
    assert "GP1" in gp["locator"]


def test_does_not_fire_when_every_record_is_flagged(store):
    _cin_child_with_ehcp(store, send_flag=True)
    link(store, "EDUCATION", "ED1", "C1")
    add_flag(store, "EDUCATION", "ED1", "CIN", date(2026, 2, 3))
    link(store, "GP", "GP1", "C1")
    link(store, "GP", "GP2", "C1")  # a duplicate GP record: one flagged record suffices
    add_flag(store, "GP", "GP2", "CIN", None)
    assert _rows(store) == {}


def test_does_not_fire_without_active_ehcp_or_cin(store):
    _cin_child_with_ehcp(store, ceased=AS_AT)  # ceased on D: not active
    add_child(store, "C2", date(2013, 2, 1), upn="U-C2")  # EHCP but not CiN
    add_ehcp(store, "U-C2", date(2024, 3, 1))
    _cin_child_with_ehcp(store, "C3", ehcp_start=date(2026, 11, 25))  # EHCP starts after D
    assert _rows(store) == {}


def test_closed_or_future_flags_do_not_count(store):
    _cin_child_with_ehcp(store, send_flag=True)
    link(store, "EDUCATION", "ED1", "C1")
    add_flag(store, "EDUCATION", "ED1", "CIN", date(2026, 2, 3), end=AS_AT)  # ended on D
    link(store, "GP", "GP1", "C1")
    add_flag(store, "GP", "GP1", "CIN", date(2026, 11, 25))  # starts after D
    link(store, "ACUTE_HEALTH", "AH1", "C1")
    add_flag(store, "ACUTE_HEALTH", "AH1", "EHCP", date(2026, 2, 3))  # wrong flag type
    assert set(_rows(store)) == {("EDUCATION", "ED1:CIN"), ("GP", "GP1:CIN"), ("ACUTE_HEALTH", "AH1:CIN")}


def test_social_care_flag_false_fires(store):
    _cin_child_with_ehcp(store, send_flag=False)
    assert set(_rows(store)) == {("SOCIAL_CARE", "C1:EHCP")}
