from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_voice

from caseflags.checking.runner import run_check

WINDOW_START = AS_AT - timedelta(days=89)


def _rows(con, **thresholds):
    return {row["person_id"]: row for row in run_check(con, "VOICE_OF_CHILD_ABSENT", AS_AT, thresholds or None)}


def test_fires_with_parent_voice_only(store):
    add_child(store, "C1", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    add_voice(store, "V1", "C1", date(2026, 11, 1), "MOTHER")
    add_voice(store, "V2", "C1", date(2026, 10, 1), "FATHER", agency="EDUCATION")
    add_voice(store, "V3", "C1", date(2026, 5, 1), "CHILD_DIRECT")  # before the window
    row = _rows(store)["C1"]
    assert (row["agency"], row["entity_type"], row["entity_id"]) == ("SOCIAL_CARE", "child", "C1")
    assert "parent voice only" in row["detail"]
    assert "2 adult-sourced" in row["detail"] and "2026-05-01" in row["detail"]


def test_fires_with_no_voice_at_all(store):
    add_child(store, "C1", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    row = _rows(store)["C1"]
    assert "parent voice only" not in row["detail"]
    assert "never been recorded" in row["detail"]


def test_observation_of_non_verbal_child_passes(store):
    add_child(store, "C1", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    add_voice(store, "V1", "C1", date(2026, 11, 1), "CHILD_OBSERVATION", agency="COMMUNITY_HEALTH")
    add_voice(store, "V2", "C1", date(2026, 11, 1), "MOTHER")
    add_child(store, "C2", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    add_voice(store, "V3", "C2", date(2026, 11, 1), "CHILD_ATTENDED_MEETING")
    add_child(store, "C3", date(2016, 1, 1))  # not CiN
    assert _rows(store) == {}


def test_window_boundary(store):
    add_child(store, "IN", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    add_voice(store, "V1", "IN", WINDOW_START, "CHILD_ADVOCATE")
    add_child(store, "OUT", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    add_voice(store, "V2", "OUT", WINDOW_START - timedelta(days=1), "CHILD_DIRECT")
    add_child(store, "FUTURE", date(2016, 1, 1), cin_from=date(2026, 1, 5))
    add_voice(store, "V3", "FUTURE", AS_AT + timedelta(days=1), "CHILD_DIRECT")
    assert set(_rows(store)) == {"OUT", "FUTURE"}
    assert set(_rows(store, window_days=91)) == {"FUTURE"}
