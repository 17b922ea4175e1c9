from datetime import date

from check_fixtures import AS_AT, add_child, add_social_worker

from caseflags.checking.runner import run_check

# AS_AT (Tue 2026-11-24) is the 5th working day after Tue 2026-11-17 and the 6th after Mon 2026-11-16.
FIVE_WORKING_DAYS_BEFORE = date(2026, 11, 17)
SIX_WORKING_DAYS_BEFORE = date(2026, 11, 16)


def _rows(con, **thresholds):
    return {row["person_id"]: row for row in run_check(con, "SOCIAL_WORKER_UNALLOCATED", AS_AT, thresholds or None)}


def test_fires_after_grace_once_allocation_ended(store):
    add_child(store, "LATE", date(2015, 1, 1), cin_from=date(2026, 1, 5))
    add_social_worker(store, "LATE", "SW-1", date(2026, 1, 5), SIX_WORKING_DAYS_BEFORE, involvement_id="I-9")
    add_child(store, "IN_GRACE", date(2015, 1, 1), cin_from=date(2026, 1, 5))
    add_social_worker(store, "IN_GRACE", "SW-1", date(2026, 1, 5), FIVE_WORKING_DAYS_BEFORE)
    rows = _rows(store)
    assert set(rows) == {"LATE"}
    row = rows["LATE"]
    assert (row["agency"], row["entity_type"], row["entity_id"], row["severity"]) == (
        "SOCIAL_CARE",
        "child",
        "LATE",
        "HIGH",
    )
    assert "since 2026-11-16" in row["detail"] and "6 working days" in row["detail"]
    assert "I-9" in row["locator"]
    assert set(_rows(store, grace_working_days=4)) == {"LATE", "IN_GRACE"}


def test_never_allocated_counts_from_cin_start(store):
    add_child(store, "LATE", date(2015, 1, 1), cin_from=SIX_WORKING_DAYS_BEFORE)
    add_child(store, "IN_GRACE", date(2015, 1, 1), cin_from=FIVE_WORKING_DAYS_BEFORE)
    add_social_worker(store, "IN_GRACE", "SW-1", date(2024, 1, 1), date(2024, 6, 1))  # before this CiN episode
    rows = _rows(store)
    assert set(rows) == {"LATE"}
    assert "never allocated" in rows["LATE"]["detail"]


def test_allocated_child_passes(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5))
    add_social_worker(store, "C1", "SW-1", date(2026, 1, 5), date(2026, 6, 1))
    add_social_worker(store, "C1", "SW-2", date(2026, 6, 1), date(2026, 11, 25))  # ends after D
    add_child(store, "C2", date(2015, 1, 1))  # not CiN
    assert _rows(store) == {}


def test_other_roles_do_not_count_as_allocation(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5))
    add_social_worker(store, "C1", "FSW-1", date(2026, 1, 5), role="FSW")
    assert set(_rows(store)) == {"C1"}
