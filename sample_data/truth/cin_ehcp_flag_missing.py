"""CIN_EHCP_FLAG_MISSING: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from . import Scenario

CHECK_ID = "CIN_EHCP_FLAG_MISSING"

SCENARIOS = [
    Scenario(
        "flag_missing_social_care",
        CHECK_ID,
        False,
        0.015,
        "ehcp_flags",
        "pers_send_flag N on a CiN child with an active EHCP",
        eligible=lambda c: c.has_ehcp,
    ),
    Scenario(
        "flag_missing_partner",
        CHECK_ID,
        False,
        0.02,
        "ehcp_flags",
        "one partner agency holds no open CIN flag for a CiN child with an EHCP",
        eligible=lambda c: c.has_ehcp,
    ),
    Scenario(
        "ehcp_ceased_today",
        CHECK_ID,
        True,
        0.005,
        "ehcp_flags",
        "EHCP ceased on the as-at date (not active) and no flags anywhere",
        eligible=lambda c: c.has_ehcp,
    ),
    Scenario(
        "cin_flag_ends_tomorrow",
        CHECK_ID,
        True,
        0.005,
        "ehcp_flags",
        "a partner's CIN flag ends the day after the as-at date (still open)",
        eligible=lambda c: c.has_ehcp,
    ),
]


def truth(ev, facts):
    if not ev.has_active_ehcp(facts):
        return []
    rows = []
    if facts.send_flag is not True:
        rows.append((CHECK_ID, facts.person_id, "SOCIAL_CARE", f"{facts.person_id}:EHCP"))
    open_cin_records = {(f["agency"], f["agency_record_id"]) for f in ev.open_flags(facts, "CIN")}
    for record in facts.rows["agency_records"]:
        if (record["agency"], record["agency_record_id"]) not in open_cin_records:
            rows.append((CHECK_ID, facts.person_id, record["agency"], f"{record['agency_record_id']}:CIN"))
    return rows
