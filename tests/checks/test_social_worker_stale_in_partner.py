from datetime import date

from check_fixtures import AS_AT, add_child, add_flag, add_social_worker, insert, link

from caseflags.checking.runner import run_check

# AS_AT (Tue 2026-11-24) is the 10th working day after Tue 2026-11-10 and the 11th after Mon 2026-11-09.
ENDED_10_WORKING_DAYS_BEFORE = date(2026, 11, 10)
ENDED_11_WORKING_DAYS_BEFORE = date(2026, 11, 9)


def _rows(con, **thresholds):
    return {
        (row["agency"], row["entity_id"]): row
        for row in run_check(con, "SOCIAL_WORKER_STALE_IN_PARTNER", AS_AT, thresholds or None)
    }


def _child_with_worker_change(con, person_id, ended):
    add_child(con, person_id, date(2015, 1, 1), cin_from=date(2026, 1, 5))
    add_social_worker(con, person_id, "SW-OLD", date(2026, 1, 5), ended)
    add_social_worker(con, person_id, "SW-NEW", ended)


def test_fires_after_grace_and_names_current_worker(store):
    _child_with_worker_change(store, "C1", ENDED_11_WORKING_DAYS_BEFORE)
    link(store, "EDUCATION", "ED1", "C1")
    add_flag(store, "EDUCATION", "ED1", "SOCIAL_WORKER", date(2026, 1, 6), value="SW-OLD")
    _child_with_worker_change(store, "C2", ENDED_10_WORKING_DAYS_BEFORE)
    link(store, "EDUCATION", "ED2", "C2")
    add_flag(store, "EDUCATION", "ED2", "SOCIAL_WORKER", date(2026, 1, 6), value="SW-OLD")
    rows = _rows(store)
    assert set(rows) == {("EDUCATION", "ED1")}
    row = rows[("EDUCATION", "ED1")]
    assert (row["person_id"], row["entity_type"], row["severity"]) == ("C1", "agency_record", "MEDIUM")
    assert "ended on 2026-11-09" in row["detail"] and "11 working days" in row["detail"]
    # The partner is told who the allocated worker is by name, never by a social care worker id.
    assert "is a professional not in the social care list" not in row["detail"]
    assert "SW-NEW" not in row["detail"] and "SW-OLD" not in row["detail"]
    assert set(_rows(store, grace_working_days=9)) == {("EDUCATION", "ED1"), ("EDUCATION", "ED2")}


def test_names_workers_by_name_and_team_never_by_id(store):
    _child_with_worker_change(store, "C1", ENDED_11_WORKING_DAYS_BEFORE)
    insert(store, "ssd_professionals", prof_professional_id="SW-OLD", prof_professional_name="Ada Old")
    insert(store, "ssd_professionals", prof_professional_id="SW-NEW", prof_professional_name="Bea New")
    link(store, "GP", "GP1", "C1")
    add_flag(store, "GP", "GP1", "SOCIAL_WORKER", date(2026, 1, 6), value="SW-OLD")
    [row] = _rows(store).values()
    assert "names Ada Old, whose allocation" in row["detail"]
    assert "the allocated social worker at 2026-11-24 is Bea New" in row["detail"]
    assert "SW-NEW" not in row["detail"] and "SW-OLD" not in row["detail"]


def test_fires_for_professional_never_allocated(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5))
    link(store, "GP", "GP1", "C1")
    add_flag(store, "GP", "GP1", "SOCIAL_WORKER", date(2026, 11, 20), value="SW-X")
    row = _rows(store)[("GP", "GP1")]
    assert "never been allocated" in row["detail"] and "none recorded" in row["detail"]


def test_does_not_fire_for_current_worker_closed_flags_or_social_care(store):
    _child_with_worker_change(store, "C1", date(2026, 6, 1))
    link(store, "GP", "GP1", "C1")
    add_flag(store, "GP", "GP1", "SOCIAL_WORKER", date(2026, 6, 2), value=" SW-NEW ")
    link(store, "POLICE", "PO1", "C1")
    add_flag(store, "POLICE", "PO1", "SOCIAL_WORKER", date(2026, 1, 6), end=date(2026, 6, 3), value="SW-OLD")
    link(store, "YJS", "YJ1", "C1")
    add_flag(store, "YJS", "YJ1", "SOCIAL_WORKER", date(2026, 1, 6))  # names nobody
    add_flag(store, "SOCIAL_CARE", "C1", "SOCIAL_WORKER", date(2026, 1, 6), value="SW-OLD")
    add_child(store, "C2", date(2015, 1, 1))  # not CiN
    link(store, "GP", "GP2", "C2")
    add_flag(store, "GP", "GP2", "SOCIAL_WORKER", date(2026, 1, 6), value="SW-OLD")
    assert _rows(store) == {}


def test_worker_reallocated_after_gap_is_current(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5))
    add_social_worker(store, "C1", "SW-A", date(2026, 1, 5), date(2026, 3, 2))
    add_social_worker(store, "C1", "SW-A", date(2026, 9, 1))
    link(store, "GP", "GP1", "C1")
    add_flag(store, "GP", "GP1", "SOCIAL_WORKER", date(2026, 1, 6), value="SW-A")
    assert _rows(store) == {}
