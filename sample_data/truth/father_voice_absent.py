"""FATHER_VOICE_ABSENT: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import FATHER_ROLES, in_window, meeting_date
from . import Scenario, has_history

CHECK_ID = "FATHER_VOICE_ABSENT"
FATHER_WINDOW_DAYS = 180

SCENARIOS = [
    Scenario("father_not_recorded", CHECK_ID, False, 0.02, "father", "no father or male carer in family_members"),
    Scenario(
        "father_no_voice",
        CHECK_ID,
        False,
        0.02,
        "father",
        "father recorded, no father voice or invitation for over 180 days",
        eligible=has_history,
    ),
    Scenario(
        "father_voice_day_179",
        CHECK_ID,
        True,
        0.005,
        "father",
        "father's voice recorded exactly 179 days before the as-at date",
        eligible=has_history,
    ),
    Scenario("male_carer_voice", CHECK_ID, True, 0.005, "father", "a male carer (no father) recorded and heard"),
]


def truth(ev, facts):
    row = [(CHECK_ID, facts.person_id, "SOCIAL_CARE", facts.person_id)]
    if not any(m["relationship"] in FATHER_ROLES for m in facts.rows["family_members"]):
        return row
    window = FATHER_WINDOW_DAYS
    if any(
        v["voice_source"] in FATHER_ROLES and in_window(v["recorded_date"], ev.as_at, window)
        for v in facts.rows["voice_records"]
    ):
        return []
    meetings = {m["meeting_id"]: m for m in facts.rows["meetings"]}
    for invitation in facts.rows["meeting_invitations"]:
        if invitation["invitee_role"] in FATHER_ROLES and in_window(
            meeting_date(meetings[invitation["meeting_id"]]), ev.as_at, window
        ):
            return []
    return row
