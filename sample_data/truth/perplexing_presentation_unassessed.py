"""PERPLEXING_PRESENTATION_UNASSESSED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario

CHECK_ID = "PERPLEXING_PRESENTATION_UNASSESSED"
PP_MEETING_LIMIT_WORKING_DAYS = 20

SCENARIOS = [
    Scenario("pp_no_meeting", CHECK_ID, False, 0.006, "pp", "open PP flag for months, no PP consensus meeting"),
    Scenario(
        "pp_meeting_late",
        CHECK_ID,
        False,
        0.005,
        "pp",
        "PP consensus meeting held on the 21st working day after the flag",
    ),
    Scenario(
        "pp_agency_lacks",
        CHECK_ID,
        False,
        0.006,
        "pp",
        "GP or EDUCATION (or social care) neither flagged nor told about the PP concern",
    ),
    Scenario(
        "pp_meeting_edge", CHECK_ID, True, 0.005, "pp", "PP consensus meeting held exactly on the 20th working day"
    ),
    Scenario("pp_flag_recent", CHECK_ID, True, 0.005, "pp", "PP flag raised 10 working days ago, meeting not yet due"),
]


def truth(ev, facts):
    flags = ev.open_flags(facts, "PERPLEXING_PRESENTATION")
    if not flags:
        return []
    rows = []
    earliest = min(f["start_date"] for f in flags)
    deadline = ev.wd.add(earliest, PP_MEETING_LIMIT_WORKING_DAYS)
    consensus = any(
        m["meeting_type"] == "PP_CONSENSUS" and m["status"] == "HELD" and earliest <= m["held_date"] <= deadline
        for m in facts.rows["meetings"]
    )
    if ev.as_at > deadline and not consensus:
        rows.append((CHECK_ID, facts.person_id, "SOCIAL_CARE", "PP_CONSENSUS_MEETING"))
    flagged = {f["agency"] for f in flags}
    told = {s["to_agency"] for s in facts.rows["information_sharing"] if s["topic"] == "PERPLEXING_PRESENTATION"}
    linked = ev.linked_agencies(facts)
    for agency in ("SOCIAL_CARE", "GP", "EDUCATION"):
        if agency != "SOCIAL_CARE" and agency not in linked:
            continue
        if agency not in flagged and agency not in told:
            rows.append((CHECK_ID, facts.person_id, agency, agency))
    return rows
