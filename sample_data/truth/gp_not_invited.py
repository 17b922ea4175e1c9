"""GP_NOT_INVITED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from .._truth import CIN_MEETING_TYPES, in_window, meeting_date
from . import Scenario

CHECK_ID = "GP_NOT_INVITED"
GP_INVITE_WINDOW_DAYS = 365

SCENARIOS = [
    Scenario("gp_not_invited", CHECK_ID, False, 0.02, "gp", "latest CiN review held without a GP invitation"),
    Scenario(
        "gp_not_registered_then",
        CHECK_ID,
        True,
        0.005,
        "gp",
        "meetings before the child's GP registration began, GP not invited",
    ),
    Scenario("gp_meeting_cancelled", CHECK_ID, True, 0.005, "gp", "a cancelled CiN review with no invitations"),
]


def truth(ev, facts):
    invitations = ev.invitations_by_meeting(facts)
    rows = []
    for meeting in facts.rows["meetings"]:
        if meeting["meeting_type"] not in CIN_MEETING_TYPES or meeting["status"] == "CANCELLED":
            continue
        day = meeting_date(meeting)
        if not in_window(day, ev.as_at, GP_INVITE_WINDOW_DAYS) or not ev.gp_registered_on(facts, day):
            continue
        if not any(i["invitee_role"] == "GP" for i in invitations[meeting["meeting_id"]]):
            rows.append((CHECK_ID, facts.person_id, "SOCIAL_CARE", meeting["meeting_id"]))
    return rows
