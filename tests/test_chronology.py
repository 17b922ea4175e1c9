"""The audit pack's chronology: every source table, in date order, only the child's own records."""

from __future__ import annotations

from datetime import date, datetime

from check_fixtures import (
    AS_AT,
    add_action,
    add_child,
    add_ehcp,
    add_flag,
    add_gp_registration,
    add_meeting,
    add_sessions,
    add_share,
    add_social_worker,
    add_summary,
    add_voice,
    insert,
    invite,
    link,
)

from caseflags.audit.chronology import CHRONOLOGY_SOURCES, build_chronology, chronology_sql
from caseflags.audit.pack import render_pack
from caseflags.audit.sampling import choose_sample
from caseflags.audit.workbook import pack_file_name, write_sample

D = date


def _child_with_every_record(con, person_id="C1", upn="UPN1", nhs="NHS1", offset=0):
    """One or more rows in every chronology source table; dates shift by `offset` days."""

    def day(y, m, d):
        return date.fromordinal(date(y, m, d).toordinal() + offset)

    add_child(con, person_id, date(2012, 5, 1), upn=upn, nhs=nhs)
    insert(
        con,
        "ssd_address",
        addr_person_id=person_id,
        addr_address_postcode="bs16 1aa",
        addr_address_start_date=day(2023, 1, 10),
    )
    insert(
        con,
        "ssd_cin_episodes",
        cine_referral_id=f"REF-{person_id}",
        cine_person_id=person_id,
        cine_referral_date=day(2025, 1, 6),
        cine_cin_primary_need_code="N2",
    )
    insert(
        con,
        "ssd_cin_assessments",
        cina_assessment_id=f"AS-{person_id}",
        cina_person_id=person_id,
        cina_referral_id=f"REF-{person_id}",
        cina_assessment_start_date=day(2025, 1, 8),
        cina_assessment_auth_date=day(2025, 2, 20),
        cina_assessment_child_seen=True,
    )
    insert(
        con, "ssd_assessment_factors", cinf_assessment_id=f"AS-{person_id}", cinf_assessment_factors_json=["4A", "15A"]
    )
    insert(
        con,
        "ssd_cin_plans",
        cinp_cin_plan_id=f"P-{person_id}",
        cinp_person_id=person_id,
        cinp_cin_plan_start_date=day(2025, 3, 3),
    )
    add_action(
        con,
        f"A-{person_id}",
        f"P-{person_id}",
        person_id,
        text="Weekly check-in call",
        owner_agency="EDUCATION",
        due=day(2025, 4, 1),
    )
    insert(
        con,
        "ssd_cin_visits",
        cinv_cin_visit_id=f"V-{person_id}",
        cinv_person_id=person_id,
        cinv_cin_visit_date=day(2025, 3, 20),
        cinv_cin_visit_seen=True,
        cinv_cin_visit_seen_alone=False,
    )
    insert(
        con,
        "ssd_s47_enquiry",
        s47e_s47_enquiry_id=f"S47-{person_id}",
        s47e_person_id=person_id,
        s47e_s47_start_date=day(2025, 5, 1),
        s47e_s47_end_date=day(2025, 5, 20),
        s47e_s47_nfa=True,
    )
    insert(
        con,
        "ssd_initial_cp_conference",
        icpc_icpc_id=f"ICPC-{person_id}",
        icpc_person_id=person_id,
        icpc_s47_enquiry_id=f"S47-{person_id}",
        icpc_icpc_target_date=day(2025, 5, 22),
    )
    add_meeting(
        con,
        f"M-{person_id}",
        person_id,
        "CIN_REVIEW",
        day(2025, 6, 2),
        minutes_shared=day(2025, 6, 12),
        child_attended=False,
    )
    invite(con, f"M-{person_id}", "GP", "GP", attended=False)
    invite(con, f"M-{person_id}", "SCHOOL", "EDUCATION", attended=True)
    invite(con, f"M-{person_id}", "FATHER")
    add_voice(con, f"VO-{person_id}", person_id, day(2025, 6, 10), "CHILD_OBSERVATION", agency="COMMUNITY_HEALTH")
    add_share(
        con, f"SH-{person_id}", person_id, "SOCIAL_CARE", "GP", "MEETING_MINUTES", day(2025, 6, 2), day(2025, 6, 12)
    )
    insert(
        con,
        "professional_differences",
        difference_id=f"PD-{person_id}",
        person_id=person_id,
        raised_by_agency="EDUCATION",
        about_agency="SOCIAL_CARE",
        raised_date=day(2025, 7, 1),
        current_stage=0,
    )
    insert(
        con,
        "transition_plans",
        plan_id=f"TP-{person_id}",
        person_id=person_id,
        plan_type="PREPARING_FOR_ADULTHOOD",
        start_date=day(2025, 7, 15),
    )
    insert(
        con,
        "family_contacts",
        contact_id=f"FC-{person_id}",
        person_id=person_id,
        agency="COMMUNITY_HEALTH",
        contact_date=day(2025, 8, 4),
        contact_type="HOME_VISIT",
    )
    insert(
        con,
        "ssd_professionals",
        prof_professional_id=f"SW1-{person_id}",
        prof_professional_job_title="Senior social worker",
        prof_agency="SOCIAL_CARE",
    )
    add_social_worker(
        con, person_id, f"SW1-{person_id}", day(2025, 1, 7), day(2025, 8, 29), involvement_id=f"I1-{person_id}"
    )
    add_social_worker(con, person_id, f"SW2-{person_id}", day(2025, 9, 1), involvement_id=f"I2-{person_id}")
    link(con, "EDUCATION", f"EDU-{person_id}", person_id)
    add_flag(con, "EDUCATION", f"EDU-{person_id}", "CIN", start=day(2025, 9, 15))
    add_gp_registration(con, nhs, day(2012, 6, 1))
    add_ehcp(con, upn, day(2024, 9, 1), last_review=day(2025, 9, 20))
    add_sessions(con, upn, ["/", "/", "N", "C", "#", "/"], day(2025, 10, 6))  # Mon 6 to Wed 8 October
    add_summary(con, upn, day(2025, 9, 1), day(2025, 10, 31), possible=80, present=70, authorised=6, unauthorised=4)


def test_every_source_table_in_date_order(store):
    _child_with_every_record(store)
    events = build_chronology(store, "C1", AS_AT)
    sources = {part.strip() for event in events for part in event.source_table.split("+")}
    assert sources == set(CHRONOLOGY_SOURCES) | {"meeting_invitations"}
    dates = [event.event_date for event in events]
    assert None not in dates and dates == sorted(dates)
    first_of = {}
    for event in events:
        first_of.setdefault(event.event_type, event.event_date)
    assert first_of["Address recorded"] == D(2023, 1, 10)
    assert first_of["Referral"] == D(2025, 1, 6)
    assert first_of["Social worker allocated"] == D(2025, 1, 7)
    assert first_of["Attendance in the month"] == D(2025, 10, 31)
    assert first_of["Attendance summary"] == D(2025, 10, 31)
    # Events of one day keep the order of the sources: the meeting before what was said at it.
    add_voice(store, "VO-SAME-DAY", "C1", D(2025, 6, 2), "CHILD_DIRECT")
    same_day = [e.event_type for e in build_chronology(store, "C1", AS_AT) if e.event_date == D(2025, 6, 2)]
    assert same_day == ["CIN_REVIEW held", "Voice: CHILD_DIRECT"]


def test_descriptions_carry_what_the_auditor_needs(store):
    _child_with_every_record(store)
    by_type = {event.event_type: event for event in build_chronology(store, "C1", AS_AT)}
    meeting = by_type["CIN_REVIEW held"]
    assert meeting.source_table == "meetings + meeting_invitations"
    assert (
        "FATHER: attendance not recorded; GP (GP): did not attend; SCHOOL (EDUCATION): attended" in meeting.description
    )
    assert "child attended: no" in meeting.description and "minutes shared: 2025-06-12" in meeting.description
    assert "4A, 15A (15A: self-harm)" in by_type["Assessment factors"].description
    assert by_type["Assessment factors"].event_date == D(2025, 2, 20)
    assert by_type["Plan action overdue"].agency == "EDUCATION"
    assert "Weekly check-in call" in by_type["Plan action overdue"].description
    assert "seen alone: no" in by_type["CIN visit"].description
    assert "no further action: yes" in by_type["S47 enquiry ended"].description
    assert "no conference date recorded" in by_type["ICPC target date"].description
    assert by_type["Voice: CHILD_OBSERVATION"].agency == "COMMUNITY_HEALTH"
    assert "shared MEETING_MINUTES with GP" in by_type["Shared: MEETING_MINUTES"].description
    assert "10 days later" in by_type["Shared: MEETING_MINUTES"].description
    allocations = [e for e in build_chronology(store, "C1", AS_AT) if e.event_type == "Social worker allocated"]
    assert [e.record_id for e in allocations] == ["I1-C1", "I2-C1"]
    assert "SW1-C1 (Senior social worker), role CW" in allocations[0].description
    assert by_type["Social worker allocation ended"].event_date == D(2025, 8, 29)
    assert by_type["Flag opened: CIN"].agency == "EDUCATION"
    assert "postcode district BS16" in by_type["Address recorded"].description
    assert "1aa" not in by_type["Address recorded"].description.lower()
    # 6 sessions: 3 attended, 1 unauthorised (N), 1 authorised (C), 1 not possible (#).
    attendance = by_type["Attendance in the month"].description
    assert attendance.startswith("October 2025: attended 3 of 5 possible sessions (60.0%)")
    assert "1 authorised and 1 unauthorised" in attendance


def test_only_the_childs_records_and_nothing_after_the_as_at_date(store):
    _child_with_every_record(store)
    _child_with_every_record(store, "C2", "UPN2", "NHS2")
    events = build_chronology(store, "C1", AS_AT)
    assert not any("C2" in (event.record_id or "") or "C2" in event.description for event in events)
    insert(
        store,
        "voice_records",
        voice_id="LATER",
        person_id="C1",
        recorded_date=date(2026, 11, 25),
        agency="SOCIAL_CARE",
        voice_source="CHILD_DIRECT",
    )
    insert(
        store,
        "voice_records",
        voice_id="ON_DAY",
        person_id="C1",
        recorded_date=AS_AT,
        agency="SOCIAL_CARE",
        voice_source="CHILD_DIRECT",
    )
    record_ids = [event.record_id for event in build_chronology(store, "C1", AS_AT)]
    assert "ON_DAY" in record_ids and "LATER" not in record_ids
    assert record_ids[-1] == "ON_DAY"


def test_undated_records_come_last(store):
    _child_with_every_record(store)
    add_action(store, "A-LATER", "P-C1", "C1", due=date(2027, 1, 1))  # due after the as-at date
    add_flag(store, "EDUCATION", "EDU-C1", "SELF_HARM")  # no dates at all
    events = build_chronology(store, "C1", AS_AT)
    undated = [event for event in events if event.event_date is None]
    assert {event.event_type for event in undated} == {"Plan action (no date yet)", "Flag opened: SELF_HARM"}
    assert events[-len(undated) :] == undated


def test_a_source_missing_from_the_store_is_named_not_fatal(store):
    _child_with_every_record(store)
    store.execute("DROP TABLE family_contacts")
    store.execute("DROP TABLE meeting_invitations")
    events = build_chronology(store, "C1", AS_AT)
    assert {"family_contacts", "meetings"} & {event.source_table for event in events} == set()
    tables = {row[0] for row in store.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert chronology_sql(tables)[1] == ["meetings", "family_contacts"]


def test_pack_is_self_contained_and_shows_exceptions_beside_the_chronology(store, tmp_path):
    _child_with_every_record(store)
    add_child(store, "C3", date(2013, 1, 1), upn="UPN3")
    insert(
        store, "ssd_cin_plans", cinp_cin_plan_id="P-C3", cinp_person_id="C3", cinp_cin_plan_start_date=date(2025, 3, 3)
    )
    add_ehcp(store, "UPN3", date(2024, 9, 1))
    insert(store, "runs", run_id="R1", as_at=AS_AT, started_at=datetime(2026, 11, 24, 2), status="COMPLETED")
    insert(
        store,
        "exceptions",
        run_id="R1",
        as_at=AS_AT,
        exception_id="E1",
        check_id="GP_NOT_INVITED",
        concern="GP invites to CiN meetings not consistent",
        severity="MEDIUM",
        person_id="C1",
        agency="SOCIAL_CARE",
        entity_type="meeting",
        entity_id="M-C1",
        detail="CIN_REVIEW <M-C1> held 2025-06-02 without a GP invitation",
        locator="meeting M-C1",
    )
    result = choose_sample(store, AS_AT, size=2, controls=1, seed=1)
    workbook = write_sample(store, result, tmp_path)
    page = (workbook.parent / "packs" / pack_file_name("C1")).read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page and " src=" not in page
    assert "GP_NOT_INVITED" in page and "&lt;M-C1&gt;" in page  # escaped, never raw markup
    assert page.index("Chronology") < page.index("Open exceptions (1)")
    assert page.index("Referral") < page.index("Attendance summary")
    assert "SOCIAL_CARE: C1" in page and "EDUCATION: EDU-C1" in page
    control_page = (workbook.parent / "packs" / pack_file_name("C3")).read_text()
    assert "this child is a control" in control_page
    events = build_chronology(store, "C1", AS_AT)
    child = next(c for c in result.children if c.person_id == "C1")
    assert render_pack(result, child, events, {}).count("<tr>") == len(events) + 1
