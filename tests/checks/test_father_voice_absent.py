"""FATHER_VOICE_ABSENT: no father recorded, or a recorded father neither heard nor invited in 180 days."""

from datetime import date, timedelta

from check_fixtures import AS_AT, add_child, add_meeting, add_voice, insert, invite

from caseflags.checking.runner import run_check

CHECK = "FATHER_VOICE_ABSENT"
WINDOW_START = AS_AT - timedelta(days=179)  # first day of the 180-day window
BEFORE_WINDOW = WINDOW_START - timedelta(days=1)


def cin_child(con, person_id="C1"):
    add_child(con, person_id, date(2015, 3, 1), cin_from=date(2025, 1, 5))


def family_member(con, person_id, member_id, relationship):
    insert(
        con,
        "family_members",
        person_id=person_id,
        member_id=member_id,
        relationship=relationship,
        parental_responsibility=True,
        lives_with_child=False,
    )


def test_no_father_recorded_fires(store):
    cin_child(store)
    family_member(store, "C1", "M-MUM", "MOTHER")
    add_voice(store, "V1", "C1", AS_AT, "MOTHER")
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) == (
        "C1",
        "SOCIAL_CARE",
        "child",
        "C1",
    )
    assert row["severity"] == "MEDIUM"
    assert row["detail"].startswith("Father not recorded")


def test_recorded_father_not_heard_nor_invited_fires_with_counts(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    add_voice(store, "V-OLD", "C1", BEFORE_WINDOW, "FATHER")
    add_voice(store, "V-MUM", "C1", AS_AT, "MOTHER")
    [row] = run_check(store, CHECK, AS_AT)
    assert "1 father or male carer(s) recorded" in row["detail"]
    assert f"last recorded {BEFORE_WINDOW.isoformat()}" in row["detail"]
    assert WINDOW_START.isoformat() in row["locator"]


def test_father_voice_on_first_day_of_window_does_not_fire(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    add_voice(store, "V1", "C1", WINDOW_START, "FATHER")
    assert run_check(store, CHECK, AS_AT) == []


def test_male_carer_voice_counts(store):
    cin_child(store)
    family_member(store, "C1", "M-PARTNER", "MALE_CARER")
    add_voice(store, "V1", "C1", AS_AT - timedelta(days=10), "MALE_CARER")
    assert run_check(store, CHECK, AS_AT) == []


def test_invitation_to_meeting_on_first_day_of_window_does_not_fire(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    add_meeting(store, "MTG1", "C1", "CIN_MEETING", WINDOW_START)
    invite(store, "MTG1", "FATHER", invited=BEFORE_WINDOW)  # sent before, meeting on the first day
    assert run_check(store, CHECK, AS_AT) == []


def test_invitation_is_dated_by_its_meeting(store):
    cin_child(store, "LATER-MEETING")
    family_member(store, "LATER-MEETING", "M-DAD", "MALE_CARER")
    add_meeting(store, "MTG1", "LATER-MEETING", "CIN_REVIEW", AS_AT + timedelta(days=14), status="SCHEDULED")
    invite(store, "MTG1", "MALE_CARER", invited=AS_AT)  # sent in the window, meeting after D
    cin_child(store, "CANCELLED-MEETING")
    family_member(store, "CANCELLED-MEETING", "M-DAD2", "FATHER")
    add_meeting(
        store,
        "MTG2",
        "CANCELLED-MEETING",
        "CIN_MEETING",
        AS_AT - timedelta(days=20),
        status="CANCELLED",
        cancelled=AS_AT - timedelta(days=21),
    )
    invite(store, "MTG2", "FATHER")  # invited to a meeting dated in the window
    assert [row["person_id"] for row in run_check(store, CHECK, AS_AT)] == ["LATER-MEETING"]


def test_voice_and_invitation_just_before_window_fire(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    add_voice(store, "V1", "C1", BEFORE_WINDOW, "FATHER")
    add_meeting(store, "MTG1", "C1", "CIN_MEETING", BEFORE_WINDOW)
    invite(store, "MTG1", "FATHER", invited=BEFORE_WINDOW - timedelta(days=7))
    assert len(run_check(store, CHECK, AS_AT)) == 1


def test_other_roles_and_sources_do_not_count(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    family_member(store, "C1", "M-STEP", "STEP_PARENT")
    add_voice(store, "V1", "C1", AS_AT, "CARER")
    add_meeting(store, "MTG1", "C1", "CIN_MEETING", AS_AT)
    invite(store, "MTG1", "MOTHER", invited=AS_AT)
    assert len(run_check(store, CHECK, AS_AT)) == 1


def test_future_voice_does_not_count_and_non_cin_child_is_ignored(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    add_voice(store, "V1", "C1", AS_AT + timedelta(days=1), "FATHER")
    add_child(store, "C2", date(2015, 3, 1))  # not CiN, no father recorded
    assert [row["person_id"] for row in run_check(store, CHECK, AS_AT)] == ["C1"]


def test_window_is_configurable(store):
    cin_child(store)
    family_member(store, "C1", "M-DAD", "FATHER")
    add_voice(store, "V1", "C1", AS_AT - timedelta(days=100), "FATHER")
    assert run_check(store, CHECK, AS_AT) == []
    assert len(run_check(store, CHECK, AS_AT, thresholds={"window_days": 100})) == 1
    assert run_check(store, CHECK, AS_AT, thresholds={"window_days": 101}) == []
