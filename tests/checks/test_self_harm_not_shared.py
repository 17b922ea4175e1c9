"""SELF_HARM_NOT_SHARED: self-harm known to one agency, not to another actively involved agency."""

from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_flag, add_meeting, add_share, add_social_worker, insert, invite, link

from caseflags.checking.runner import run_check

CHECK = "SELF_HARM_NOT_SHARED"


def keys(rows):
    return sorted((row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) for row in rows)


def cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2011, 3, 1), cin_from=date(2025, 1, 5))


def involved(con, agency, person_id="C1", record_id=None):
    """A linked record with an open (non self-harm) flag: the agency is actively involved."""
    record_id = record_id or f"{agency}-{person_id}"
    link(con, agency, record_id, person_id)
    add_flag(con, agency, record_id, "CIN", start=date(2025, 2, 1))
    return record_id


def self_harm_flag(con, agency, start, person_id="C1"):
    record_id = involved(con, agency, person_id)
    add_flag(con, agency, record_id, "SELF_HARM", start=start)


def assessment_15a(con, assessment_id, start, person_id="C1", factors=("4A", "15A")):
    insert(
        con,
        "ssd_cin_assessments",
        cina_assessment_id=assessment_id,
        cina_person_id=person_id,
        cina_assessment_start_date=start,
        cina_assessment_auth_date=start + timedelta(days=30),
    )
    insert(con, "ssd_assessment_factors", cinf_assessment_id=assessment_id, cinf_assessment_factors_json=list(factors))


def test_involved_agency_without_flag_or_share_fires_owned_by_source(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    involved(store, "EDUCATION")
    rows = run_check(store, CHECK, AS_AT)
    assert keys(rows) == [("C1", "GP", "child_agency", "EDUCATION")]
    [row] = rows
    assert row["severity"] == "HIGH"
    assert "recorded by GP (first on 2026-09-01)" in row["detail"] and "EDUCATION" in row["detail"]
    assert "EDUCATION-C1" not in row["locator"]  # never another agency's record id


def test_agencies_with_flag_or_share_do_not_fire(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    self_harm_flag(store, "EDUCATION", date(2026, 10, 1))
    involved(store, "MENTAL_HEALTH")
    add_share(store, "SH1", "C1", "GP", "MENTAL_HEALTH", "SELF_HARM", date(2026, 9, 1), date(2026, 9, 2))
    assert run_check(store, CHECK, AS_AT) == []


def test_earliest_source_owns_social_care_assessment_or_partner_flag(store):
    cin_child(store, "SC-FIRST")
    assessment_15a(store, "A1", date(2026, 8, 1), person_id="SC-FIRST")
    self_harm_flag(store, "GP", date(2026, 9, 1), person_id="SC-FIRST")
    involved(store, "EDUCATION", person_id="SC-FIRST")
    cin_child(store, "GP-FIRST")
    assessment_15a(store, "A2", date(2026, 9, 1), person_id="GP-FIRST")
    self_harm_flag(store, "GP", date(2026, 8, 1), person_id="GP-FIRST")
    involved(store, "EDUCATION", person_id="GP-FIRST")
    assert keys(run_check(store, CHECK, AS_AT)) == [
        ("GP-FIRST", "GP", "child_agency", "EDUCATION"),
        ("SC-FIRST", "SOCIAL_CARE", "child_agency", "EDUCATION"),
    ]


def test_tie_for_earliest_goes_to_social_care(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    self_harm_flag(store, "MENTAL_HEALTH", date(2026, 9, 1))
    involved(store, "POLICE")
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["agency"], row["entity_id"]) == ("SOCIAL_CARE", "POLICE")
    assert "several agencies on the same day" in row["locator"]


def test_shares_do_not_make_an_agency_a_source(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    involved(store, "EDUCATION")
    # Education told social care earlier than GP flagged it, without holding a flag itself.
    add_share(store, "SH1", "C1", "EDUCATION", "SOCIAL_CARE", "SELF_HARM", date(2026, 8, 1), date(2026, 8, 1))
    add_social_worker(store, "C1", "SW1", date(2025, 1, 5))  # social care involved, but told
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "GP", "child_agency", "EDUCATION")]


def test_social_care_involved_through_open_involvement(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    add_social_worker(store, "C1", "SW1", date(2025, 1, 5))
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "GP", "child_agency", "SOCIAL_CARE")]


def test_partner_professional_involvement_counts_with_linked_record(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    insert(store, "ssd_professionals", prof_professional_id="CH1", prof_agency="COMMUNITY_HEALTH")
    add_social_worker(store, "C1", "CH1", date(2026, 1, 1), role="SCHOOL_NURSE")
    assert run_check(store, CHECK, AS_AT) == []  # involved, but no linked record
    link(store, "COMMUNITY_HEALTH", "CH-REC", "C1")
    assert keys(run_check(store, CHECK, AS_AT)) == [("C1", "GP", "child_agency", "COMMUNITY_HEALTH")]


def test_linked_record_without_activity_is_not_involved(store):
    cin_child(store)
    self_harm_flag(store, "GP", date(2026, 9, 1))
    link(store, "POLICE", "PO-1", "C1")  # linked, nothing open
    link(store, "YJS", "YJ-1", "C1")
    add_flag(store, "YJS", "YJ-1", "CIN", start=date(2025, 1, 1), end=date(2026, 6, 1))  # closed flag
    assert run_check(store, CHECK, AS_AT) == []


def test_invitation_window_boundary(store):
    cin_child(store, "IN")
    self_harm_flag(store, "GP", date(2026, 9, 1), person_id="IN")
    link(store, "POLICE", "PO-IN", "IN")
    add_meeting(store, "M-IN", "IN", "CIN_MEETING", AS_AT - timedelta(days=179))
    invite(store, "M-IN", "POLICE", agency="POLICE", invited=AS_AT - timedelta(days=200))
    cin_child(store, "OUT")
    self_harm_flag(store, "GP", date(2026, 9, 1), person_id="OUT")
    link(store, "POLICE", "PO-OUT", "OUT")
    add_meeting(store, "M-OUT", "OUT", "CIN_MEETING", AS_AT - timedelta(days=180))
    invite(store, "M-OUT", "POLICE", agency="POLICE", invited=AS_AT - timedelta(days=170))
    assert keys(run_check(store, CHECK, AS_AT)) == [("IN", "GP", "child_agency", "POLICE")]


def test_assessment_factor_lookback_boundary(store):
    cin_child(store, "RECENT")
    assessment_15a(store, "A-RECENT", date(2025, 11, 24), person_id="RECENT")  # exactly 12 months: in
    involved(store, "EDUCATION", person_id="RECENT")
    cin_child(store, "OLD")
    assessment_15a(store, "A-OLD", date(2025, 11, 23), person_id="OLD")  # a day more: out
    involved(store, "EDUCATION", person_id="OLD")
    cin_child(store, "NO-15A")
    assessment_15a(store, "A-4A", date(2026, 6, 1), person_id="NO-15A", factors=("4A",))
    involved(store, "EDUCATION", person_id="NO-15A")
    rows = run_check(store, CHECK, AS_AT)
    assert keys(rows) == [("RECENT", "SOCIAL_CARE", "child_agency", "EDUCATION")]
    assert "factor 15A on assessment A-RECENT" in rows[0]["locator"]
    assert len(run_check(store, CHECK, AS_AT, thresholds={"assessment_lookback_months": 13})) == 2


def test_ended_flag_and_non_cin_child_are_not_sources(store):
    cin_child(store)
    record = involved(store, "GP")
    add_flag(store, "GP", record, "SELF_HARM", start=date(2026, 1, 1), end=date(2026, 11, 1))
    involved(store, "EDUCATION")
    add_child(store, "NOT-CIN", date(2011, 3, 1))
    self_harm_flag(store, "GP", date(2026, 9, 1), person_id="NOT-CIN")
    involved(store, "EDUCATION", person_id="NOT-CIN")
    assert run_check(store, CHECK, AS_AT) == []
