"""Fixture helpers for check tests: build a small store row by row.

Usage (any test module under tests/; tests/conftest.py puts this folder on sys.path):

    from check_fixtures import new_store, add_child, link, insert, ...
    con = new_store()                       # or the `store` pytest fixture from conftest.py
    add_child(con, "C1", date(2012, 3, 1), cin_from=date(2026, 1, 5), upn="UPN1", nhs="NHS1")
    link(con, "GP", "GP-1", "C1")
    insert(con, "meetings", meeting_id="M1", person_id="C1", meeting_type="CIN_MEETING", ...)
    rows = run_check(con, "CHECK_ID", AS_AT)   # from caseflags.checking.runner

Linkage is tested elsewhere: `add_child` and `link` write `person_links` /
`person_identifiers` directly. Identifiers here need not be valid NHS numbers or UPNs: checks
never validate them, they only follow the links.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from caseflags.store.database import connect, ensure_store

AS_AT = date(2026, 11, 24)  # a Tuesday; no bank holiday within two weeks either side


def new_store() -> duckdb.DuckDBPyConnection:
    """An in-memory store with every contract, internal and linkage table, all empty."""
    con = connect()
    ensure_store(con)
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, **values) -> None:
    """Insert one row naming only the columns given; the others are NULL."""
    columns = ", ".join(f'"{name}"' for name in values)
    placeholders = ", ".join(f"${name}" for name in values)
    con.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})', values)


def add_child(
    con,
    person_id: str,
    dob: date,
    *,
    cin_from: date | None = None,
    cin_to: date | None = None,
    plan_id: str | None = None,
    upn: str | None = None,
    nhs: str | None = None,
    send_flag: bool | None = None,
    died: date | None = None,
) -> None:
    """An LA child: ssd_person, its SOCIAL_CARE self-link, its identifiers, optionally a CIN plan
    (id `plan_id`, default `P-<person_id>`) open from `cin_from`."""
    insert(
        con,
        "ssd_person",
        pers_person_id=person_id,
        pers_dob=dob,
        pers_upn=upn,
        pers_single_unique_id=nhs,
        pers_send_flag=send_flag,
        pers_death_date=died,
    )
    insert(
        con,
        "person_links",
        agency="SOCIAL_CARE",
        agency_record_id=person_id,
        person_id=person_id,
        method="LA_ID",
        match_probability=1.0,
    )
    if upn:
        insert(con, "person_identifiers", person_id=person_id, identifier_type="UPN", identifier_value=upn)
    if nhs:
        insert(con, "person_identifiers", person_id=person_id, identifier_type="NHS_NUMBER", identifier_value=nhs)
    if cin_from:
        add_cin_plan(con, person_id, plan_id or f"P-{person_id}", cin_from, cin_to)


def add_cin_plan(con, person_id: str, plan_id: str, start: date, end: date | None = None) -> None:
    insert(
        con,
        "ssd_cin_plans",
        cinp_cin_plan_id=plan_id,
        cinp_person_id=person_id,
        cinp_cin_plan_start_date=start,
        cinp_cin_plan_end_date=end,
    )


def add_ehcp(
    con, upn: str, start: date, ceased: date | None = None, ehcp_id: str | None = None, last_review: date | None = None
) -> None:
    insert(
        con,
        "ehcp_plans",
        ehcp_id=ehcp_id or f"EHCP-{upn}",
        upn=upn,
        named_plan_start_date=start,
        ceased_date=ceased,
        last_review_date=last_review,
    )


def link(con, agency: str, record_id: str, person_id: str, **record) -> None:
    """A partner agency's record (agency_records) linked to the LA child (person_links)."""
    insert(con, "agency_records", agency=agency, agency_record_id=record_id, **record)
    insert(
        con,
        "person_links",
        agency=agency,
        agency_record_id=record_id,
        person_id=person_id,
        method="TEST",
        match_probability=1.0,
    )


def add_flag(
    con,
    agency: str,
    record_id: str,
    flag_type: str,
    start: date | None = None,
    end: date | None = None,
    value: str | None = None,
) -> None:
    insert(
        con,
        "agency_flags",
        agency=agency,
        agency_record_id=record_id,
        flag_type=flag_type,
        flag_value=value,
        start_date=start,
        end_date=end,
    )


def add_gp_registration(con, nhs: str, start: date, end: date | None = None, practice: str = "L81001") -> None:
    insert(con, "gp_registrations", nhs_number=nhs, practice_code=practice, registered_from=start, registered_to=end)


def add_social_worker(
    con,
    person_id: str,
    professional_id: str,
    start: date,
    end: date | None = None,
    involvement_id: str | None = None,
    role: str = "CW",
) -> None:
    insert(
        con,
        "ssd_involvements",
        invo_involvements_id=involvement_id or f"I-{person_id}-{professional_id}-{start}",
        invo_professional_id=professional_id,
        invo_person_id=person_id,
        invo_professional_role_id=role,
        invo_involvement_start_date=start,
        invo_involvement_end_date=end,
    )


def add_meeting(
    con,
    meeting_id: str,
    person_id: str,
    meeting_type: str,
    scheduled: date,
    *,
    status: str = "HELD",
    held: date | None = None,
    minutes_shared: date | None = None,
    cancelled: date | None = None,
    child_attended: bool | None = None,
) -> None:
    """A meeting; a HELD meeting without `held` is held on its scheduled date."""
    if status == "HELD" and held is None:
        held = scheduled
    insert(
        con,
        "meetings",
        meeting_id=meeting_id,
        person_id=person_id,
        meeting_type=meeting_type,
        scheduled_date=scheduled,
        status=status,
        held_date=held,
        cancelled_date=cancelled,
        minutes_shared_date=minutes_shared,
        child_attended=child_attended,
    )


def invite(
    con,
    meeting_id: str,
    role: str,
    agency: str | None = None,
    professional_id: str | None = None,
    invited: date | None = None,
    attended: bool | None = None,
) -> None:
    insert(
        con,
        "meeting_invitations",
        meeting_id=meeting_id,
        invitee_role=role,
        agency=agency,
        professional_id=professional_id,
        invited_date=invited,
        attended=attended,
    )


def add_voice(con, voice_id: str, person_id: str, recorded: date, source: str, agency: str = "SOCIAL_CARE") -> None:
    insert(
        con,
        "voice_records",
        voice_id=voice_id,
        person_id=person_id,
        recorded_date=recorded,
        agency=agency,
        voice_source=source,
    )


def add_action(
    con,
    action_id: str,
    plan_id: str,
    person_id: str,
    *,
    text: str = "Action",
    owner_role: str | None = "Social worker",
    owner_agency: str | None = "SOCIAL_CARE",
    owner_professional_id: str | None = None,
    due: date | None = None,
    outcome: str | None = "Measured at review",
    status: str | None = "OPEN",
    completed: date | None = None,
) -> None:
    """A plan action; by default SMART (owner, outcome measure) except for its due date."""
    insert(
        con,
        "plan_actions",
        action_id=action_id,
        plan_id=plan_id,
        person_id=person_id,
        action_text=text,
        owner_role=owner_role,
        owner_agency=owner_agency,
        owner_professional_id=owner_professional_id,
        due_date=due,
        outcome_measure=outcome,
        status=status,
        completed_date=completed,
    )


def add_share(
    con,
    share_id: str,
    person_id: str,
    from_agency: str,
    to_agency: str,
    topic: str,
    event: date,
    shared: date,
    related_id: str | None = None,
) -> None:
    insert(
        con,
        "information_sharing",
        share_id=share_id,
        person_id=person_id,
        from_agency=from_agency,
        to_agency=to_agency,
        topic=topic,
        event_date=event,
        shared_date=shared,
        related_id=related_id,
    )


def school_days(start: date, end: date) -> list[date]:
    """Weekdays from start to end inclusive (fixtures ignore holidays: schools set their own)."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def add_sessions(con, upn: str, codes: list[str], start: date, school_urn: str = "100001") -> list[date]:
    """Attendance sessions AM, PM, AM, ... on consecutive weekdays from `start`, one per code.

    Returns the days used. Inserted set-based so long registers stay fast.
    """
    days = school_days(start, start + timedelta(days=len(codes) * 2 + 14))
    session_days = [days[i // 2] for i in range(len(codes))]
    halves = ["AM" if i % 2 == 0 else "PM" for i in range(len(codes))]
    con.execute(
        """
        INSERT INTO attendance_sessions (upn, school_urn, session_date, session, attendance_code)
        SELECT $upn, $urn, unnest(CAST($days AS DATE[])), unnest($halves), unnest($codes)
        """,
        {"upn": upn, "urn": school_urn, "days": session_days, "halves": halves, "codes": codes},
    )
    return sorted(set(session_days))


def add_summary(
    con,
    upn: str,
    start: date,
    end: date,
    possible: int,
    present: int,
    authorised: int | None = None,
    unauthorised: int | None = None,
    school_urn: str = "100001",
) -> None:
    insert(
        con,
        "attendance_summaries",
        upn=upn,
        school_urn=school_urn,
        period_start=start,
        period_end=end,
        possible_sessions=possible,
        present_sessions=present,
        authorised_absence_sessions=authorised,
        unauthorised_absence_sessions=unauthorised,
    )


def dob_for_age(as_at: date, years: int, months: int = 0) -> date:
    """The date of birth that makes a child exactly `years` years `months` months old on as_at."""
    if as_at.day > 28:
        raise ValueError("dob_for_age needs an as-at day of month of 28 or less")
    total = as_at.year * 12 + (as_at.month - 1) - (years * 12 + months)
    return date(total // 12, total % 12 + 1, as_at.day)
