"""Choosing the audit sample: cohort, weights, strata, controls, exclusions, reproducibility."""

from __future__ import annotations

import stat
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import count

import fastexcel
import pytest
from check_fixtures import AS_AT, add_child, add_cin_plan, add_ehcp, dob_for_age, insert

from caseflags.audit.model import CONTROL, FLAGGED, SampleError, age_band, record_sample
from caseflags.audit.outcomes import mark_audited
from caseflags.audit.sampling import choose_sample, open_exceptions
from caseflags.audit.workbook import pack_file_name, write_sample
from caseflags.store.database import ensure_store

_exception_numbers = count()


def add_run(con, run_id="R1", as_at=AS_AT, status="COMPLETED"):
    insert(
        con, "runs", run_id=run_id, as_at=as_at, started_at=datetime.combine(as_at, datetime.min.time()), status=status
    )


def add_exception(con, person_id, check_id, severity="MEDIUM", run_id="R1", as_at=AS_AT):
    number = next(_exception_numbers)
    insert(
        con,
        "exceptions",
        run_id=run_id,
        as_at=as_at,
        exception_id=f"X{number:05d}",
        check_id=check_id,
        concern=f"concern of {check_id}",
        severity=severity,
        person_id=person_id,
        agency="SOCIAL_CARE",
        entity_type="child",
        entity_id=f"{person_id}:{number}",
        detail="detail",
        locator="locator",
    )


def add_cohort_child(con, person_id, age=10, need="N2", checks=(), severity="MEDIUM", ehcp=True, cin=True):
    """A child CiN with an active EHCP (by default) and open exceptions of the given checks."""
    upn = f"UPN-{person_id}"
    add_child(con, person_id, dob_for_age(AS_AT, age), upn=upn)
    if cin:
        add_cin_plan(con, person_id, f"P-{person_id}", date(2025, 1, 6))
        insert(
            con,
            "ssd_cin_episodes",
            cine_referral_id=f"REF-{person_id}",
            cine_person_id=person_id,
            cine_referral_date=date(2024, 12, 2),
            cine_cin_primary_need_code=need,
        )
    if ehcp:
        add_ehcp(con, upn, date(2024, 9, 1))
    for check_id in checks:
        add_exception(con, person_id, check_id, severity)


def ids(result):
    return [child.person_id for child in result.children]


@pytest.fixture
def cohort(store):
    """30 children: ages 3-18, four need types, a third without exceptions."""
    add_run(store)
    needs = ["N1", "N2", "N2", "N3", "N2", "N4"]
    for i in range(30):
        checks = [] if i % 3 == 0 else ["VOICE_OF_CHILD_ABSENT", "GP_NOT_KNOWN"][: 1 + i % 2]
        add_cohort_child(
            store,
            f"C{i:02d}",
            age=3 + i % 16,
            need=needs[i % len(needs)],
            checks=checks,
            severity="HIGH" if i % 5 == 0 else "MEDIUM",
        )
    return store


def test_same_seed_same_sample_and_different_seeds_differ(cohort):
    first = choose_sample(cohort, AS_AT, size=10, seed=42)
    again = choose_sample(cohort, AS_AT, size=10, seed=42)
    assert first == again
    assert len(set(ids(first))) == 10
    others = {tuple(ids(choose_sample(cohort, AS_AT, size=10, seed=seed))) for seed in range(5)}
    assert len(others) > 1


def test_seed_is_drawn_and_recorded_when_not_given(cohort):
    result = choose_sample(cohort, AS_AT, size=5)
    assert ids(choose_sample(cohort, AS_AT, size=5, seed=result.seed)) == ids(result)


def test_every_child_has_reasons(cohort):
    result = choose_sample(cohort, AS_AT, size=10, seed=1)
    for child in result.children:
        assert child.reasons
        if child.role == FLAGGED:
            assert "open exception" in child.reasons[0] and child.exceptions
            assert {e.check_id for e in child.exceptions} <= {"VOICE_OF_CHILD_ABSENT", "GP_NOT_KNOWN"}
        else:
            assert child.reasons[0].startswith("control") and not child.exceptions
        assert any(f"age band {child.age_band}" in reason for reason in child.reasons)


def test_control_quota_honoured(cohort):
    for seed in range(10):
        result = choose_sample(cohort, AS_AT, size=10, seed=seed, controls=3)
        roles = Counter(child.role for child in result.children)
        assert roles == {FLAGGED: 7, CONTROL: 3}
        assert all(child.open_exception_count == 0 for child in result.children if child.role == CONTROL)
        assert not result.warnings


def test_weighting_favours_children_with_more_and_graver_concerns(store):
    add_run(store)
    add_cohort_child(store, "HEAVY", checks=["A_CHECK", "B_CHECK", "C_CHECK"], severity="HIGH")  # weight 9
    add_cohort_child(store, "LIGHT", checks=["A_CHECK"], severity="LOW")  # weight 1
    for i in range(8):
        add_cohort_child(store, f"M{i}", checks=["A_CHECK"], severity="MEDIUM")  # weight 2
    chosen = Counter()
    for seed in range(40):
        chosen.update(ids(choose_sample(store, AS_AT, size=1, controls=0, seed=seed)))
    # Chances 9/26 and 1/26: HEAVY is drawn far more often than LIGHT.
    assert chosen["HEAVY"] > 3 * max(chosen["LIGHT"], 1)
    result = choose_sample(store, AS_AT, size=10, controls=0, seed=3)
    weights = {child.person_id: child.weight for child in result.children}
    assert weights["HEAVY"] == 9 and weights["LIGHT"] == 1 and weights["M0"] == 2


def test_many_exceptions_of_one_check_weigh_as_one_concern(store):
    add_run(store)
    add_cohort_child(store, "C1", checks=["GP_NOT_INVITED"] * 5, severity="MEDIUM")
    add_cohort_child(store, "C2", checks=["GP_NOT_INVITED", "VOICE_OF_CHILD_ABSENT"], severity="MEDIUM")
    result = choose_sample(store, AS_AT, size=2, controls=0, seed=1)
    by_id = {child.person_id: child for child in result.children}
    assert (by_id["C1"].weight, by_id["C1"].open_exception_count, by_id["C1"].distinct_concerns) == (2, 5, 1)
    assert (by_id["C2"].weight, by_id["C2"].distinct_concerns) == (4, 2)


def test_strata_span_age_bands_and_need_types_when_the_cohort_allows(store):
    add_run(store)
    # Heavily flagged children all aged 12 with need N2; one child in each other stratum, lightly flagged.
    for i in range(20):
        add_cohort_child(store, f"H{i:02d}", age=12, need="N2", checks=["A", "B", "C"], severity="HIGH")
    add_cohort_child(store, "AGE3", age=3, need="N2", checks=["A"], severity="LOW")
    add_cohort_child(store, "AGE7", age=7, need="N2", checks=["A"], severity="LOW")
    add_cohort_child(store, "AGE17", age=17, need="N1", checks=["A"], severity="LOW")  # also the only N1
    add_cohort_child(store, "NEED4", age=12, need="N4", checks=["A"], severity="LOW")
    add_cohort_child(store, "CTRL1", age=12, need="N2")
    add_cohort_child(store, "CTRL2", age=12, need="N2")
    for seed in range(15):
        result = choose_sample(store, AS_AT, size=6, controls=1, seed=seed)
        assert {child.age_band for child in result.children} == {"0-4", "5-10", "11-15", "16-18"}
        assert {child.need_type for child in result.children} == {"N1", "N2", "N4"}
        assert not result.strata_uncovered and not result.warnings
        assert Counter(child.role for child in result.children)[CONTROL] == 1
    kept = [reason for child in result.children for reason in child.reasons if "was kept for" in reason]
    assert kept  # at least one place went to a stratum the weights alone would rarely reach


def test_controls_can_carry_a_stratum(store):
    add_run(store)
    for i in range(6):
        add_cohort_child(store, f"F{i}", age=8, need="N2", checks=["A"])
    add_cohort_child(store, "ONLY_TEEN", age=16, need="N2")  # no exceptions: reachable only as a control
    for seed in range(5):
        result = choose_sample(store, AS_AT, size=3, controls=1, seed=seed)
        assert "ONLY_TEEN" in ids(result)


def test_clear_message_when_strata_cannot_all_be_covered(store):
    add_run(store)
    for i, need in enumerate(["N1", "N2", "N3", "N4", "N5"]):
        add_cohort_child(store, f"C{i}", age=10, need=need, checks=["A"])
        add_cohort_child(store, f"D{i}", age=10, need="N2", checks=["A", "B"])
    add_cohort_child(store, "CTRL", age=10, need="N2")
    add_cohort_child(store, "CTRL2", age=10, need="N2")
    result = choose_sample(store, AS_AT, size=4, controls=1, seed=5)
    assert len(result.children) == 4
    (warning,) = result.warnings
    assert "strata not all coverable with 4 children" in warning and "needs at least 5" in warning
    assert len(result.strata_uncovered) == 1  # four places cover four of the five need types
    assert {child.need_type for child in result.children} >= {"N2"}


def test_warning_when_too_few_children_without_exceptions(store):
    add_run(store)
    for i in range(8):
        add_cohort_child(store, f"C{i}", checks=["A"])
    add_cohort_child(store, "CTRL", checks=[])
    result = choose_sample(store, AS_AT, size=5, controls=2, seed=1)
    assert Counter(child.role for child in result.children) == {FLAGGED: 4, CONTROL: 1}
    assert any("control quota not met: only 1" in warning for warning in result.warnings)


def test_too_few_flagged_children_fill_with_controls(store):
    add_run(store)
    add_cohort_child(store, "F1", checks=["A"])
    for i in range(5):
        add_cohort_child(store, f"C{i}")
    result = choose_sample(store, AS_AT, size=4, controls=1, seed=1)
    assert Counter(child.role for child in result.children) == {FLAGGED: 1, CONTROL: 3}
    assert any("only 1 eligible children have open exceptions" in warning for warning in result.warnings)


def test_error_when_the_cohort_is_smaller_than_the_sample(store):
    add_run(store)
    for i in range(3):
        add_cohort_child(store, f"C{i}", checks=["A"])
    with pytest.raises(SampleError, match="only 3 of 3 children .* are eligible .* at most 3"):
        choose_sample(store, AS_AT, size=4, seed=1)


def test_error_without_a_completed_run(store):
    add_cohort_child(store, "C1", checks=[])
    add_run(store, "LATER", as_at=AS_AT + timedelta(days=1))
    add_run(store, "UNFINISHED", as_at=AS_AT, status="RUNNING")
    with pytest.raises(SampleError, match="no completed run on or before 2026-11-24"):
        choose_sample(store, AS_AT, size=1, controls=0, seed=1)


def test_bad_arguments_are_refused(store):
    add_run(store)
    with pytest.raises(SampleError, match="unknown cohort"):
        choose_sample(store, AS_AT, cohort="EVERYONE")
    with pytest.raises(SampleError, match="controls must be between 0 and the sample size"):
        choose_sample(store, AS_AT, size=2, controls=3)


def test_cohorts(store):
    add_run(store)
    add_cohort_child(store, "BOTH")
    add_cohort_child(store, "CIN_ONLY", ehcp=False)
    add_cohort_child(store, "EHCP_ONLY", cin=False)
    add_child(store, "ENDED", dob_for_age(AS_AT, 9), upn="UPN-ENDED", cin_from=date(2025, 1, 1), cin_to=AS_AT)
    add_ehcp(store, "UPN-ENDED", date(2024, 1, 1), ceased=AS_AT)  # both end on the as-at date: not active
    add_ehcp(store, "UPN-NOT-LINKED", date(2024, 1, 1))

    def whole_cohort(name, size):
        return set(ids(choose_sample(store, AS_AT, size=size, controls=size, seed=1, cohort=name)))

    assert whole_cohort("CIN_WITH_ACTIVE_EHCP", 1) == {"BOTH"}
    assert whole_cohort("CIN", 2) == {"BOTH", "CIN_ONLY"}
    assert whole_cohort("ACTIVE_EHCP", 2) == {"BOTH", "EHCP_ONLY"}
    result = choose_sample(store, AS_AT, size=2, controls=2, seed=1, cohort="ACTIVE_EHCP")
    assert {c.person_id: c.need_type for c in result.children}["EHCP_ONLY"] == "NO_OPEN_EPISODE"
    assert result.cohort_count == 2
    with pytest.raises(SampleError, match="only 2 of 2"):
        choose_sample(store, AS_AT, size=3, controls=0, seed=1, cohort="CIN")


def test_recently_audited_children_are_excluded(store):
    add_run(store)
    for i in range(6):
        add_cohort_child(store, f"C{i}", checks=["A"] if i % 2 else [])
    first = choose_sample(store, AS_AT, size=3, controls=1, seed=11)
    record_sample(store, first)
    assert mark_audited(store, first.sample_id, AS_AT) == 3
    second = choose_sample(store, AS_AT, size=3, controls=1, seed=11)
    assert set(ids(first)).isdisjoint(ids(second))
    assert second.excluded_recently_audited == 3
    # Nobody left to audit a third time within the year.
    with pytest.raises(SampleError, match=r"3 audited on or after 2025-11-25"):
        choose_sample(store, AS_AT, size=4, controls=1, seed=11)


def _audited(con, sample_id, person_ids, audited_on):
    """A past sample of these children, audited on the given date."""
    insert(
        con,
        "audit_samples",
        sample_id=sample_id,
        as_at=audited_on,
        seed=1,
        cohort="CIN",
        size=len(person_ids),
        controls=0,
        exclude_audited_within_days=365,
        exceptions_source="test",
        audited_on=audited_on,
    )
    for position, person_id in enumerate(person_ids, start=1):
        insert(
            con,
            "audit_sample_children",
            sample_id=sample_id,
            person_id=person_id,
            position=position,
            role=CONTROL,
            age_band="5-10",
            need_type="N2",
            weight=1,
            open_exceptions=0,
            distinct_concerns=0,
            reasons="test",
        )


def test_exclusion_period_boundaries(store):
    add_run(store)
    for i in range(4):
        add_cohort_child(store, f"C{i}")
    ensure_store(store)
    _audited(store, "INSIDE", ["C0"], AS_AT - timedelta(days=364))  # first day of the 365-day window
    _audited(store, "OUTSIDE", ["C1"], AS_AT - timedelta(days=365))
    _audited(store, "AFTER", ["C2"], AS_AT + timedelta(days=1))  # audited since D: certainly recent
    result = choose_sample(store, AS_AT, size=2, controls=2, seed=1)
    assert set(ids(result)) == {"C1", "C3"}
    assert result.excluded_recently_audited == 2
    with pytest.raises(SampleError, match=r"only 2 of 4 .* \(2 audited on or after 2025-11-25,"):
        choose_sample(store, AS_AT, size=3, controls=3, seed=1)
    longer = choose_sample(store, AS_AT, size=1, controls=1, seed=1, exclude_audited_within_days=366)
    assert set(ids(longer)) == {"C3"}
    assert (
        choose_sample(store, AS_AT, size=4, controls=4, seed=1, exclude_audited_within_days=0).excluded_recently_audited
        == 0
    )
    # A sample chosen but never marked audited excludes nobody.
    store.execute("UPDATE audit_samples SET audited_on = NULL")
    assert choose_sample(store, AS_AT, size=4, controls=4, seed=1).excluded_recently_audited == 0


def test_open_exceptions_read_the_latest_completed_run_on_or_before_as_at(store):
    add_run(store, "OLD", as_at=AS_AT - timedelta(days=7))
    add_run(store, "R1")
    add_run(store, "FUTURE", as_at=AS_AT + timedelta(days=1))
    add_cohort_child(store, "C1")
    add_exception(store, "C1", "A", run_id="OLD", as_at=AS_AT - timedelta(days=7))
    add_exception(store, "C1", "B", run_id="R1")
    add_exception(store, "C1", "C", run_id="FUTURE", as_at=AS_AT + timedelta(days=1))
    insert(
        store,
        "exceptions",
        run_id="R1",
        as_at=AS_AT,
        exception_id="NOCHILD",
        check_id="INVALID_IDENTIFIER",
        severity="LOW",
        person_id="",
        agency="GP",
        entity_type="nhs_number",
        entity_id="gp:2",
    )
    source = open_exceptions(store, AS_AT)
    assert (source.label, source.as_at, source.count) == ("exceptions run R1", AS_AT, 1)
    result = choose_sample(store, AS_AT, size=1, controls=0, seed=1)
    assert [e.check_id for e in result.children[0].exceptions] == ["B"]


def test_open_exceptions_use_the_exceptions_current_view_when_it_holds_the_run(store):
    add_run(store)
    add_cohort_child(store, "C1")
    add_exception(store, "C1", "A")
    add_exception(store, "C1", "B")
    store.execute(
        "CREATE OR REPLACE VIEW exceptions_current AS SELECT exception_id, check_id, concern, severity, person_id, agency, "
        "entity_type, entity_id, detail, locator, DATE '2026-11-01' AS first_seen, "
        "CASE check_id WHEN 'A' THEN 'NEW' ELSE 'RESOLVED' END AS status, as_at FROM exceptions"
    )
    source = open_exceptions(store, AS_AT)
    assert (source.label, source.count) == ("exceptions_current", 1)
    (exception,) = choose_sample(store, AS_AT, size=1, controls=0, seed=1).children[0].exceptions
    assert (exception.check_id, exception.status, exception.first_seen) == ("A", "NEW", date(2026, 11, 1))
    # Sampling as at an earlier run: the view holds a later run, so that run's exceptions are read.
    add_run(store, "EARLIER", as_at=AS_AT - timedelta(days=1))
    add_exception(store, "C1", "Z", run_id="EARLIER", as_at=AS_AT - timedelta(days=1))
    store.execute(
        "CREATE OR REPLACE VIEW exceptions_current AS SELECT *, 'OPEN' AS status FROM exceptions WHERE run_id = 'R1'"
    )
    assert open_exceptions(store, AS_AT - timedelta(days=1)).label == "exceptions run EARLIER"


def test_age_bands():
    assert [age_band(a) for a in (None, -1, 0, 4, 5, 10, 11, 15, 16, 18, 19, 25)] == [
        "unknown",
        "0-4",
        "0-4",
        "0-4",
        "5-10",
        "5-10",
        "11-15",
        "11-15",
        "16-18",
        "16-18",
        "19+",
        "19+",
    ]


def test_write_sample_records_it_and_writes_private_files(cohort, tmp_path):
    result = choose_sample(cohort, AS_AT, size=4, controls=1, seed=9)
    workbook = write_sample(cohort, result, tmp_path)
    assert workbook == tmp_path / "samples" / result.sample_id / "audit_sample.xlsx"
    assert stat.S_IMODE(workbook.stat().st_mode) == 0o600
    assert stat.S_IMODE(workbook.parent.stat().st_mode) == 0o700
    packs = sorted((workbook.parent / "packs").iterdir())
    assert [p.name for p in packs] == sorted(pack_file_name(pid) for pid in ids(result))
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in packs)

    reader = fastexcel.read_excel(str(workbook))
    assert {"Sample", "Outcomes", "About"} <= set(reader.sheet_names)
    listed = reader.load_sheet("Sample", dtypes="string").to_arrow().to_pylist()
    assert [row["person_id"] for row in listed] == ids(result)
    assert all(row["reasons"] for row in listed)
    outcome_rows = reader.load_sheet("Outcomes", dtypes="string").to_arrow().to_pylist()
    flagged_rows = {(r["person_id"], r["check_id"]) for r in outcome_rows if r["flagged"] == "Y"}
    expected = {(c.person_id, e.check_id) for c in result.children for e in c.exceptions}
    assert flagged_rows == expected
    assert sum(1 for r in outcome_rows if r["flagged"] == "N") == 2 * len(result.children)

    stored = cohort.execute(
        "SELECT person_id, role FROM audit_sample_children WHERE sample_id = $id ORDER BY position",
        {"id": result.sample_id},
    ).fetchall()
    assert stored == [(c.person_id, c.role) for c in result.children]
    concerns = cohort.execute("SELECT count(*) FROM audit_sample_concerns").fetchone()[0]
    assert concerns == len(expected)
    write_sample(cohort, result, tmp_path)  # the same sample again: stored once
    assert cohort.execute("SELECT count(*) FROM audit_samples").fetchone()[0] == 1
    assert cohort.execute("SELECT count(*) FROM audit_sample_children").fetchone()[0] == 4
