"""SELF_HARM_NOT_SHARED: its planted cases and the truth it implies for one child (docs/GENERATOR.md)."""

from datetime import date

from .._calendar import add_months
from .._truth import in_window, meeting_date
from . import Scenario

CHECK_ID = "SELF_HARM_NOT_SHARED"
SELF_HARM_FACTOR_MONTHS = 12
SELF_HARM_INVITATION_DAYS = 180

SCENARIOS = [
    Scenario(
        "self_harm_unshared",
        CHECK_ID,
        False,
        0.015,
        "self_harm",
        "self-harm flagged by one agency, an involved agency never told",
    ),
    Scenario(
        "self_harm_uninvolved_agency",
        CHECK_ID,
        True,
        0.005,
        "self_harm",
        "agency with a linked record but no flag, involvement or recent invitation is not told",
        eligible=lambda c: not c.has_ehcp,
    ),
    Scenario("self_harm_factor_old", CHECK_ID, True, 0.005, "self_harm", "15A only on an assessment 14 months ago"),
]


def self_harm_sources(ev, facts) -> dict[str, date]:
    """Agency -> date of its earliest self-harm record (open flag start, or 15A assessment)."""
    sources: dict[str, date] = {}
    for flag in ev.open_flags(facts, "SELF_HARM"):
        day = flag["start_date"] or flag["recorded_date"]
        sources[flag["agency"]] = min(day, sources.get(flag["agency"], day))
    factors = {f["cinf_assessment_id"]: f["cinf_assessment_factors_json"] for f in facts.rows["ssd_assessment_factors"]}
    cutoff = add_months(ev.as_at, -SELF_HARM_FACTOR_MONTHS)
    for assessment in facts.rows["ssd_cin_assessments"]:
        day = assessment["cina_assessment_start_date"]
        if "15A" in factors.get(assessment["cina_assessment_id"], []) and cutoff <= day <= ev.as_at:
            sources["SOCIAL_CARE"] = min(day, sources.get("SOCIAL_CARE", day))
    return sources


def truth(ev, facts):
    sources = self_harm_sources(ev, facts)
    if not sources:
        return []
    earliest = min(sources.values())
    owner = (
        "SOCIAL_CARE" if sources.get("SOCIAL_CARE") == earliest else min(a for a, d in sources.items() if d == earliest)
    )
    flagged = {f["agency"] for f in ev.open_flags(facts)}
    meetings = {m["meeting_id"]: m for m in facts.rows["meetings"]}
    invited = {
        i["agency"]
        for i in facts.rows["meeting_invitations"]
        if i["agency"] and in_window(meeting_date(meetings[i["meeting_id"]]), ev.as_at, SELF_HARM_INVITATION_DAYS)
    }
    involved = {a for a in ev.linked_agencies(facts) if a in flagged or a in invited}
    if ev.open_involvement(facts) or "SOCIAL_CARE" in invited:
        involved.add("SOCIAL_CARE")
    self_harm_flagged = {f["agency"] for f in ev.open_flags(facts, "SELF_HARM")}
    told = {s["to_agency"] for s in facts.rows["information_sharing"] if s["topic"] == "SELF_HARM"}
    return [
        (CHECK_ID, facts.person_id, owner, agency)
        for agency in sorted(involved)
        if agency not in sources and agency not in self_harm_flagged and agency not in told
    ]
