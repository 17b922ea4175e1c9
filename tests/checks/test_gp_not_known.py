from datetime import date

from check_fixtures import AS_AT, add_child, add_gp_registration

from caseflags.checking.runner import run_check


def _rows(con):
    return {row["person_id"]: row for row in run_check(con, "GP_NOT_KNOWN", AS_AT)}


def test_fires_for_cin_child_without_gp_registration(store):
    add_child(store, "C1", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N1")
    rows = _rows(store)
    assert set(rows) == {"C1"}
    row = rows["C1"]
    assert (row["agency"], row["entity_type"], row["entity_id"], row["severity"]) == (
        "SOCIAL_CARE",
        "child",
        "C1",
        "MEDIUM",
    )
    assert "2026-01-05" in row["detail"] and "2026-11-24" in row["detail"]
    assert "N1" not in row["detail"] + row["locator"]  # no NHS number in the message
    assert "P-C1" in row["locator"]


def test_does_not_fire_when_registered_or_not_cin(store):
    add_child(store, "C1", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N1")
    add_gp_registration(store, "N1", date(2014, 6, 1))
    add_child(store, "C2", date(2014, 5, 1), cin_from=date(2025, 1, 5), cin_to=date(2025, 6, 1), nhs="N2")
    assert _rows(store) == {}


def test_registration_ending_on_as_at_is_not_current(store):
    add_child(store, "C1", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N1")
    add_gp_registration(store, "N1", date(2014, 6, 1), end=AS_AT)
    add_child(store, "C2", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N2")
    add_gp_registration(store, "N2", date(2014, 6, 1), end=date(2026, 11, 25))
    add_child(store, "C3", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N3")
    add_gp_registration(store, "N3", AS_AT)  # registered from the as-at date itself
    rows = _rows(store)
    assert set(rows) == {"C1"}
    assert "since 2026-11-24" in rows["C1"]["detail"]


def test_child_without_nhs_number_gets_its_own_explanation(store):
    add_child(store, "C1", date(2014, 5, 1), cin_from=date(2026, 1, 5))
    assert "no valid NHS number" in _rows(store)["C1"]["detail"]


def test_a_child_who_has_died_raises_nothing_after_the_death(store):
    add_child(store, "C1", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N1", died=date(2026, 10, 1))
    add_child(store, "C2", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N2", died=AS_AT)
    add_child(store, "C3", date(2014, 5, 1), cin_from=date(2026, 1, 5), nhs="N3", died=date(2026, 11, 25))
    # C3's recorded death is after the as-at date: at the as-at date the GP is still expected.
    assert set(_rows(store)) == {"C3"}
