from datetime import date

from check_fixtures import AS_AT, add_action, add_child

from caseflags.checking.runner import run_check

# AS_AT (Tue 2026-11-24) is the 10th working day after Tue 2026-11-10 and the 11th after Mon 2026-11-09.
DUE_10_WORKING_DAYS_BEFORE = date(2026, 11, 10)
DUE_11_WORKING_DAYS_BEFORE = date(2026, 11, 9)


def _rows(con, **thresholds):
    return {row["entity_id"]: row for row in run_check(con, "CIN_PLAN_NOT_SMART", AS_AT, thresholds or None)}


def _plan(con, person_id="C1", plan_id="P1"):
    add_child(con, person_id, date(2015, 1, 1), cin_from=date(2026, 3, 2), plan_id=plan_id)


def test_fires_high_for_plan_without_actions(store):
    _plan(store)
    row = _rows(store)["P1"]
    assert (row["person_id"], row["agency"], row["entity_type"], row["severity"]) == (
        "C1",
        "SOCIAL_CARE",
        "cin_plan",
        "HIGH",
    )
    assert "no recorded actions" in row["detail"] and "2026-03-02" in row["detail"]


def test_fires_for_open_action_lacking_owner_due_date_or_measure(store):
    _plan(store, "C1", "P1")
    add_action(store, "A1", "P1", "C1", owner_role=None, owner_professional_id=None, due=date(2027, 1, 1))
    _plan(store, "C2", "P2")
    add_action(store, "A2", "P2", "C2", due=None)
    _plan(store, "C3", "P3")
    add_action(store, "A3", "P3", "C3", due=date(2027, 1, 1), outcome="  ")
    rows = _rows(store)
    assert set(rows) == {"P1", "P2", "P3"}
    assert "1 without an owner" in rows["P1"]["detail"] and "A1" in rows["P1"]["locator"]
    assert "1 without a due date" in rows["P2"]["detail"]
    assert "1 without an outcome measure" in rows["P3"]["detail"]
    assert {row["severity"] for row in rows.values()} == {"MEDIUM"}


def test_does_not_fire_for_smart_plan(store):
    _plan(store)
    add_action(store, "A1", "P1", "C1", owner_role=None, owner_professional_id="SW1", due=date(2027, 1, 1))
    add_action(store, "A2", "P1", "C1", due=None, owner_role=None, outcome=None, status="DONE")  # closed: not judged
    add_action(store, "A3", "P1", "C1", due=date(2026, 1, 5), status="DROPPED")
    assert _rows(store) == {}


def test_overdue_boundary_at_grace_working_days(store):
    _plan(store, "C1", "P1")
    add_action(store, "A1", "P1", "C1", due=DUE_10_WORKING_DAYS_BEFORE)
    _plan(store, "C2", "P2")
    add_action(store, "A2", "P2", "C2", due=DUE_11_WORKING_DAYS_BEFORE)
    rows = _rows(store)
    assert set(rows) == {"P2"}
    assert "overdue by more than 10 working days" in rows["P2"]["detail"] and "2026-11-09" in rows["P2"]["detail"]
    assert set(_rows(store, overdue_grace_working_days=9)) == {"P1", "P2"}


def test_closed_plan_and_action_without_status(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 1, 5), cin_to=AS_AT, plan_id="P1")
    _plan(store, "C2", "P2")
    add_action(store, "A2", "P2", "C2", due=None, status=None)  # no status: still open
    assert set(_rows(store)) == {"P2"}
