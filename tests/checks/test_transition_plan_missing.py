"""TRANSITION_PLAN_MISSING: young people approaching 16 (or EHCP from Year 9) without transition planning.

AS_AT is 24 November 2026: aged exactly 15 years 6 months means born 24 May 2011; the 31 August
before D is 31 August 2026, so Year 9 (13 on that day) means born on or before 31 August 2013.
"""

from datetime import date

from check_fixtures import AS_AT, add_child, add_ehcp, dob_for_age, insert

from caseflags.checking.runner import run_check

CHECK = "TRANSITION_PLAN_MISSING"
EXACTLY_15Y6M = dob_for_age(AS_AT, 15, 6)  # 2011-05-24
ONE_DAY_YOUNGER = date(2011, 5, 25)


def cin_child(con, person_id, dob, upn=None):
    add_child(con, person_id, dob, cin_from=date(2026, 1, 5), upn=upn)


def ehcp_child(con, person_id, dob, *, cin=False):
    upn = f"UPN-{person_id}"
    add_child(con, person_id, dob, cin_from=date(2026, 1, 5) if cin else None, upn=upn)
    add_ehcp(con, upn, date(2020, 9, 1))


def plan(
    con,
    person_id,
    plan_type="PREPARING_FOR_ADULTHOOD",
    *,
    start=date(2026, 3, 1),
    reviewed=None,
    end=None,
    plan_id=None,
):
    insert(
        con,
        "transition_plans",
        plan_id=plan_id or f"TP-{person_id}-{plan_type}",
        person_id=person_id,
        plan_type=plan_type,
        start_date=start,
        last_review_date=reviewed,
        end_date=end,
    )


def test_exactly_fifteen_and_a_half_cin_without_plan_fires_high(store):
    assert EXACTLY_15Y6M == date(2011, 5, 24)
    cin_child(store, "C1", EXACTLY_15Y6M)
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["person_id"], row["agency"], row["entity_type"], row["entity_id"]) == (
        "C1",
        "SOCIAL_CARE",
        "child",
        "C1",
    )
    assert row["severity"] == "HIGH"
    assert "15 years 6 months" in row["detail"] and "no open" in row["detail"]
    assert "pers_person_id=C1" in row["locator"]


def test_one_day_younger_cin_only_does_not_fire(store):
    cin_child(store, "C1", ONE_DAY_YOUNGER)
    assert run_check(store, CHECK, AS_AT) == []


def test_ehcp_without_cin_past_transition_age_is_education_high(store):
    ehcp_child(store, "C1", EXACTLY_15Y6M)
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["agency"], row["severity"]) == ("EDUCATION", "HIGH")
    assert "active EHCP, not CiN" in row["detail"]


def test_year9_boundary_for_ehcp_only_is_medium(store):
    ehcp_child(store, "Y9", date(2013, 8, 31))  # 13 on 31 August 2026: Year 9
    ehcp_child(store, "Y8", date(2013, 9, 1))  # 12 on 31 August 2026: Year 8
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["person_id"], row["agency"], row["severity"]) == ("Y9", "EDUCATION", "MEDIUM")
    assert "Year 9" in row["detail"]


def test_year9_rule_applies_to_ehcp_only_not_cin_only(store):
    cin_child(store, "CIN-ONLY", date(2012, 1, 1))  # Year 10, CiN, no EHCP
    ehcp_child(store, "BOTH", date(2012, 1, 1), cin=True)  # Year 10, CiN and EHCP
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["person_id"], row["agency"], row["severity"]) == ("BOTH", "SOCIAL_CARE", "MEDIUM")


def test_one_day_younger_with_ehcp_falls_to_year9_medium(store):
    ehcp_child(store, "C1", ONE_DAY_YOUNGER, cin=True)
    [row] = run_check(store, CHECK, AS_AT)
    assert (row["agency"], row["severity"]) == ("SOCIAL_CARE", "MEDIUM")


def test_open_plan_reviewed_within_twelve_months_does_not_fire(store):
    cin_child(store, "PFA", EXACTLY_15Y6M)
    plan(store, "PFA", start=date(2025, 1, 10), reviewed=date(2026, 6, 1))
    cin_child(store, "POST16", EXACTLY_15Y6M)
    plan(store, "POST16", "POST_16", start=date(2026, 1, 10))
    assert run_check(store, CHECK, AS_AT) == []


def test_review_exactly_twelve_months_ago_is_in_time_one_day_more_is_not(store):
    cin_child(store, "IN-TIME", EXACTLY_15Y6M)
    plan(store, "IN-TIME", start=date(2024, 1, 10), reviewed=date(2025, 11, 24))
    cin_child(store, "LATE", EXACTLY_15Y6M)
    plan(store, "LATE", start=date(2024, 1, 10), reviewed=date(2025, 11, 23))
    [row] = run_check(store, CHECK, AS_AT)
    assert row["person_id"] == "LATE"
    assert "2025-11-23" in row["detail"] and "12 months" in row["detail"]
    assert "transition_plans.plan_id=TP-LATE-PREPARING_FOR_ADULTHOOD" in row["locator"]


def test_never_reviewed_plan_counts_from_its_start(store):
    cin_child(store, "C1", EXACTLY_15Y6M)
    plan(store, "C1", start=date(2025, 11, 23))
    assert len(run_check(store, CHECK, AS_AT)) == 1


def test_other_plan_types_ended_or_future_plans_do_not_count(store):
    cin_child(store, "CARE-ACT", EXACTLY_15Y6M)
    plan(store, "CARE-ACT", "CARE_ACT_TRANSITION")
    cin_child(store, "ENDED", EXACTLY_15Y6M)
    plan(store, "ENDED", start=date(2026, 1, 1), end=date(2026, 11, 24))
    cin_child(store, "FUTURE", EXACTLY_15Y6M)
    plan(store, "FUTURE", start=date(2026, 11, 25))
    assert [row["person_id"] for row in run_check(store, CHECK, AS_AT)] == ["CARE-ACT", "ENDED", "FUTURE"]


def test_children_outside_cohort_do_not_fire(store):
    add_child(store, "NEITHER", date(2010, 1, 1))  # not CiN, no EHCP
    add_child(store, "CEASED", date(2010, 1, 1), upn="UPN-CEASED")
    add_ehcp(store, "UPN-CEASED", date(2020, 9, 1), ceased=date(2026, 7, 31))
    add_child(store, "CIN-ENDED", date(2010, 1, 1), cin_from=date(2025, 1, 1), cin_to=date(2026, 10, 1))
    assert run_check(store, CHECK, AS_AT) == []


def test_transition_age_is_configurable(store):
    cin_child(store, "C1", dob_for_age(AS_AT, 15, 0))
    assert run_check(store, CHECK, AS_AT) == []
    [row] = run_check(store, CHECK, AS_AT, thresholds={"transition_age_months": 180})
    assert "15 years 0 months" in row["detail"]


def test_a_young_person_who_has_died_needs_no_transition_plan(store):
    add_child(store, "DIED", EXACTLY_15Y6M, cin_from=date(2026, 1, 5), died=date(2026, 9, 1))
    cin_child(store, "ALIVE", EXACTLY_15Y6M)
    assert {row["person_id"] for row in run_check(store, CHECK, AS_AT)} == {"ALIVE"}
