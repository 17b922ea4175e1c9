"""The 2026-27 CIN census's PreProceedingsandFGDM block (pre-proceedings and family group
decision making), read into `cin_pre_proceedings`. Field names as the public CIN validator
reads them (data-to-insight csc-validator-be-cin, PR #508) and its 2026 sample; the block may
repeat within an episode."""

from __future__ import annotations

from datetime import date

import duckdb
from returns_builder import cin_child, cin_return, write

from caseflags.ingest.returns.reader import read_return
from caseflags.ingest.stage import stage_delivery
from caseflags.settings import load_config
from caseflags.store.database import ensure_store
from caseflags.store.publish import STAGED_PREFIX

FULL_BLOCK = (
    "<PreProceedingsandFGDM><PPStartDate>2026-09-09</PPStartDate><LBPSentDate>2026-09-20</LBPSentDate>"
    "<FGDMMeetingOffer>1</FGDMMeetingOffer><FGDMMeetingFac>1</FGDMMeetingFac>"
    "<InitialPPMeetingDate>2026-09-28</InitialPPMeetingDate><ReviewMeetingsCount>3</ReviewMeetingsCount>"
    "<StepDecisionDate>2026-12-01</StepDecisionDate><PPOutcome>A</PPOutcome>"
    "<CourtAppDate>2026-12-18</CourtAppDate><LetterInitCPDate>2027-02-05</LetterInitCPDate></PreProceedingsandFGDM>"
)
SECOND_BLOCK = (
    "<PreProceedingsandFGDM><PPStartDate>2027-02-10</PPStartDate><ReviewMeetingsCount>two</ReviewMeetingsCount>"
    "<LBPSentDate>2027-02-30</LBPSentDate></PreProceedingsandFGDM>"
)


def _child(year: int, blocks: str) -> str:
    plain = cin_child(year, "PP1")
    start = (
        plain.index("<PreProceedingsandFGDM>") if "<PreProceedingsandFGDM>" in plain else plain.index("</CINdetails>")
    )
    end = plain.index("</CINdetails>")
    return plain[:start] + blocks + plain[end:]


def test_every_field_of_each_block_is_read_into_cin_pre_proceedings(tmp_path):
    extract = read_return(
        write(tmp_path / "cin.xml", cin_return(2027, children=_child(2027, FULL_BLOCK + SECOND_BLOCK)))
    )
    assert extract.quarantine == []
    rows = extract.tables["cin_pre_proceedings"].drop("_line").to_dicts()
    assert rows == [
        {
            "cinpp_pre_proceedings_id": "PP1/2019-10-01/PP/2026-09-09",
            "cinpp_referral_id": "PP1/2019-10-01",
            "cinpp_person_id": "PP1",
            "cinpp_pp_start_date": "2026-09-09",
            "cinpp_lbp_sent_date": "2026-09-20",
            "cinpp_fgdm_meeting_offer": "1",
            "cinpp_fgdm_meeting_fac": "1",
            "cinpp_initial_pp_meeting_date": "2026-09-28",
            "cinpp_review_meetings_count": "3",
            "cinpp_step_decision_date": "2026-12-01",
            "cinpp_pp_outcome": "A",
            "cinpp_court_app_date": "2026-12-18",
            "cinpp_letter_init_cp_date": "2027-02-05",
        },
        {
            "cinpp_pre_proceedings_id": "PP1/2019-10-01/PP/2027-02-10",
            "cinpp_referral_id": "PP1/2019-10-01",
            "cinpp_person_id": "PP1",
            "cinpp_pp_start_date": "2027-02-10",
            "cinpp_lbp_sent_date": None,
            "cinpp_fgdm_meeting_offer": None,
            "cinpp_fgdm_meeting_fac": None,
            "cinpp_initial_pp_meeting_date": None,
            "cinpp_review_meetings_count": None,
            "cinpp_step_decision_date": None,
            "cinpp_pp_outcome": None,
            "cinpp_court_app_date": None,
            "cinpp_letter_init_cp_date": None,
        },
    ]
    # A bad value in the block is a warning, never a quarantine: nothing depends on it yet.
    assert sorted((w["column_name"].rsplit("/", 1)[-1], w["reason"]) for w in extract.warnings) == [
        ("LBPSentDate", "impossible date"),
        ("ReviewMeetingsCount", "wrong format"),
    ]


def test_the_block_in_an_earlier_census_is_read_with_a_warning(tmp_path):
    extract = read_return(write(tmp_path / "cin.xml", cin_return(2026, children=_child(2026, FULL_BLOCK))))
    assert extract.tables["cin_pre_proceedings"].height == 1
    assert [w["reason"] for w in extract.warnings] == [
        "PreProceedingsandFGDM is collected from the 2026-27 census: read from an earlier census"
    ]


def test_pre_proceedings_are_staged_typed_with_their_ledger(tmp_path):
    write(tmp_path / "cin.xml", cin_return(2027, children=_child(2027, FULL_BLOCK)))
    con = duckdb.connect(":memory:")
    ensure_store(con)
    delivery = stage_delivery(con, tmp_path, load_config())
    outcome = delivery.outcomes["cin_pre_proceedings"]
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == ("LOADED", 1, 1, 0)
    assert con.execute(
        f"SELECT cinpp_pp_start_date, cinpp_review_meetings_count, cinpp_letter_init_cp_date "
        f'FROM "{STAGED_PREFIX}cin_pre_proceedings"'
    ).fetchall() == [(date(2026, 9, 9), 3, date(2027, 2, 5))]
