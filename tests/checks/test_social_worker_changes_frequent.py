from datetime import date

from check_fixtures import AS_AT, add_child, add_social_worker

from caseflags.checking.runner import run_check

WINDOW_START = date(2025, 11, 25)  # 365 days up to and including AS_AT (2026-11-24)


def _rows(con, **thresholds):
    return {
        row["person_id"]: row for row in run_check(con, "SOCIAL_WORKER_CHANGES_FREQUENT", AS_AT, thresholds or None)
    }


def _cin_child(con, person_id):
    add_child(con, person_id, date(2015, 1, 1), cin_from=date(2025, 1, 6))


def test_exactly_three_workers_in_365_days_fires(store):
    _cin_child(store, "C1")
    add_social_worker(store, "C1", "SW-A", date(2025, 1, 6), date(2026, 3, 2))
    add_social_worker(store, "C1", "SW-B", date(2026, 3, 2), date(2026, 7, 1))
    add_social_worker(store, "C1", "SW-C", date(2026, 7, 1))
    row = _rows(store)["C1"]
    assert (row["agency"], row["entity_type"], row["entity_id"], row["severity"]) == (
        "SOCIAL_CARE",
        "child",
        "C1",
        "MEDIUM",
    )
    assert row["detail"].startswith("3 different social workers") and "2026-07-01" in row["detail"]
    assert "ssd_involvements" in row["locator"]


def test_returning_worker_counts_once_and_two_workers_pass(store):
    _cin_child(store, "C1")
    add_social_worker(store, "C1", "SW-A", date(2025, 12, 1), date(2026, 3, 2))
    add_social_worker(store, "C1", "SW-B", date(2026, 3, 2), date(2026, 7, 1))
    add_social_worker(store, "C1", "SW-A", date(2026, 7, 1))
    add_social_worker(store, "C1", "TM-1", date(2026, 1, 1), role="TM")  # not an allocated social worker
    assert _rows(store) == {}


def test_window_boundary(store):
    _cin_child(store, "OUT")
    add_social_worker(store, "OUT", "SW-A", date(2025, 1, 6), WINDOW_START)  # last allocated the day before the window
    add_social_worker(store, "OUT", "SW-B", WINDOW_START, date(2026, 6, 1))
    add_social_worker(store, "OUT", "SW-C", date(2026, 6, 1))
    add_social_worker(store, "OUT", "SW-D", date(2026, 11, 25))  # starts after D
    _cin_child(store, "IN")
    add_social_worker(store, "IN", "SW-A", date(2025, 1, 6), date(2025, 11, 26))  # allocated on the window's first day
    add_social_worker(store, "IN", "SW-B", date(2025, 11, 26), date(2026, 6, 1))
    add_social_worker(store, "IN", "SW-C", date(2026, 6, 1))
    assert set(_rows(store)) == {"IN"}
    assert set(_rows(store, window_days=366)) == {"IN", "OUT"}
    assert set(_rows(store, max_social_workers=2)) == {"IN", "OUT"}


def test_not_cin_child_passes(store):
    add_child(store, "C1", date(2015, 1, 1))
    for n, start in enumerate([date(2026, 1, 5), date(2026, 3, 2), date(2026, 6, 1)]):
        add_social_worker(store, "C1", f"SW-{n}", start)
    assert _rows(store) == {}
