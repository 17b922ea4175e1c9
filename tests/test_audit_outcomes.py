"""Recording the audit: marking a sample audited, importing outcomes, confirmation rates per check."""

from __future__ import annotations

from datetime import date, datetime

import fastexcel
import pytest
import xlsxwriter
from check_fixtures import AS_AT, add_child, add_cin_plan, add_ehcp, dob_for_age, insert

from caseflags.audit.model import OUTCOME_COLUMNS, AuditImportError, SampleError
from caseflags.audit.outcomes import confirmation_rates, import_audit_outcomes, mark_audited
from caseflags.audit.sampling import choose_sample
from caseflags.audit.workbook import write_sample

RECORDED_AT = datetime(2026, 12, 10, 15, 30)


def _child(con, person_id, checks):
    add_child(con, person_id, dob_for_age(AS_AT, 9), upn=f"UPN-{person_id}")
    add_cin_plan(con, person_id, f"P-{person_id}", date(2025, 1, 6))
    add_ehcp(con, f"UPN-{person_id}", date(2024, 9, 1))
    for number, check_id in enumerate(checks):
        insert(
            con,
            "exceptions",
            run_id="R1",
            as_at=AS_AT,
            exception_id=f"{person_id}-{number}",
            check_id=check_id,
            concern=f"concern {check_id}",
            severity="MEDIUM",
            person_id=person_id,
            agency="SOCIAL_CARE",
            entity_type="child",
            entity_id=f"{person_id}-{number}",
        )


@pytest.fixture
def sampled(store, tmp_path):
    """A recorded sample of four children: A and B flagged, C and D controls."""
    insert(store, "runs", run_id="R1", as_at=AS_AT, started_at=datetime(2026, 11, 24, 2), status="COMPLETED")
    _child(store, "A", ["GP_NOT_INVITED", "GP_NOT_INVITED", "VOICE_OF_CHILD_ABSENT"])
    _child(store, "B", ["GP_NOT_INVITED"])
    _child(store, "C", [])
    _child(store, "D", [])
    result = choose_sample(store, AS_AT, size=4, controls=2, seed=3)
    workbook = write_sample(store, result, tmp_path)
    return store, result, workbook


def _outcome_rows(workbook):
    return fastexcel.read_excel(str(workbook)).load_sheet("Outcomes", dtypes="string").to_arrow().to_pylist()


def _filled(rows, path, outcomes, extra=()):
    """The auditors' copy: the sheet's rows with outcomes set per (person_id, check_id), the first
    blank row of a child used for each (person_id, check_id, outcome) in `extra`."""
    extra = list(extra)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Outcomes")
    sheet.write_row(0, 0, OUTCOME_COLUMNS)
    for index, row in enumerate(rows, start=1):
        row = dict(row)
        key = (row["person_id"], row["check_id"])
        if key in outcomes:
            row["outcome"], row["auditor_note"] = outcomes[key], f"note on {key}"
        elif not row["check_id"]:
            match = next((e for e in extra if e[0] == row["person_id"]), None)
            if match:
                extra.remove(match)
                row["check_id"], row["outcome"] = match[1], match[2]
        sheet.write_row(index, 0, [row.get(column) or "" for column in OUTCOME_COLUMNS])
    workbook.close()
    return path


def test_outcome_sheet_lists_each_childs_concerns(sampled):
    _, result, workbook = sampled
    rows = _outcome_rows(workbook)
    flagged = [(r["person_id"], r["check_id"], r["exception_count"]) for r in rows if r["flagged"] == "Y"]
    assert sorted(flagged) == [
        ("A", "GP_NOT_INVITED", "2"),
        ("A", "VOICE_OF_CHILD_ABSENT", "1"),
        ("B", "GP_NOT_INVITED", "1"),
    ]
    assert {r["sample_id"] for r in rows} == {result.sample_id}
    assert sorted(r["person_id"] for r in rows if r["flagged"] == "N") == ["A", "A", "B", "B", "C", "C", "D", "D"]


def test_import_and_confirmation_rates(sampled, tmp_path):
    con, result, workbook = sampled
    filled = _filled(
        _outcome_rows(workbook),
        tmp_path / "filled.xlsx",
        {
            ("A", "GP_NOT_INVITED"): "CONFIRMED",
            ("A", "VOICE_OF_CHILD_ABSENT"): "not a concern",
            ("B", "GP_NOT_INVITED"): "NOT_A_CONCERN",
        },
        extra=[("C", "FATHER_VOICE_ABSENT", "CONFIRMED")],  # found by auditors in a control
    )
    summary = import_audit_outcomes(con, filled, RECORDED_AT)
    assert (summary.rows_imported, summary.confirmed, summary.not_a_concern, summary.missed, summary.pending) == (
        4,
        1,
        2,
        1,
        0,
    )
    assert "4 outcomes" in str(summary)
    rates = {row["check_id"]: row for row in confirmation_rates(con)}
    assert rates["GP_NOT_INVITED"]["confirmed"] == 1 and rates["GP_NOT_INVITED"]["not_a_concern"] == 1
    assert rates["GP_NOT_INVITED"]["rate"] == pytest.approx(0.5)
    assert rates["VOICE_OF_CHILD_ABSENT"]["rate"] == 0.0
    assert rates["FATHER_VOICE_ABSENT"] == {
        "check_id": "FATHER_VOICE_ABSENT",
        "concern": rates["FATHER_VOICE_ABSENT"]["concern"],
        "confirmed": 0,
        "not_a_concern": 0,
        "rate": None,
        "missed": 1,
        "samples": 1,
    }
    note = con.execute(
        "SELECT auditor_note, recorded_at FROM audit_outcomes WHERE person_id = 'A' AND check_id = 'GP_NOT_INVITED'"
    ).fetchone()
    assert note == ("note on ('A', 'GP_NOT_INVITED')", RECORDED_AT)


def test_reimport_replaces_and_blank_outcomes_are_pending(sampled, tmp_path):
    con, _, workbook = sampled
    rows = _outcome_rows(workbook)
    import_audit_outcomes(
        con, _filled(rows, tmp_path / "first.xlsx", {("B", "GP_NOT_INVITED"): "NOT_A_CONCERN"}), RECORDED_AT
    )
    second = _filled(rows, tmp_path / "second.xlsx", {("B", "GP_NOT_INVITED"): "CONFIRMED"})
    summary = import_audit_outcomes(con, second, RECORDED_AT)
    assert summary.pending == 2  # A's two concerns still without an outcome
    rates = {row["check_id"]: row for row in confirmation_rates(con)}
    assert (rates["GP_NOT_INVITED"]["confirmed"], rates["GP_NOT_INVITED"]["not_a_concern"]) == (1, 0)
    assert con.execute("SELECT count(*) FROM audit_outcomes").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("outcomes", "extra", "message"),
    [
        ({("A", "GP_NOT_INVITED"): "MAYBE"}, [], r"row \d+: outcome 'MAYBE' is not one of CONFIRMED, NOT_A_CONCERN"),
        ({}, [("C", "NO_SUCH_CHECK", "CONFIRMED")], r"unknown check_id NO_SUCH_CHECK"),
        ({}, [("C", "", "CONFIRMED")], r"outcome given without a check_id"),
    ],
)
def test_invalid_file_applies_nothing(sampled, tmp_path, outcomes, extra, message):
    con, _, workbook = sampled
    good = {("B", "GP_NOT_INVITED"): "CONFIRMED"}
    filled = _filled(_outcome_rows(workbook), tmp_path / "bad.xlsx", {**good, **outcomes}, extra)
    with pytest.raises(AuditImportError, match=message):
        import_audit_outcomes(con, filled, RECORDED_AT)
    assert con.execute("SELECT count(*) FROM audit_outcomes").fetchone()[0] == 0


def test_rows_of_other_children_or_samples_are_refused(sampled, tmp_path):
    con, result, workbook = sampled
    rows = _outcome_rows(workbook)
    stranger = dict(rows[0], person_id="NOT_SAMPLED", outcome="CONFIRMED")
    with pytest.raises(AuditImportError, match="person_id NOT_SAMPLED is not in sample"):
        import_audit_outcomes(con, _filled([*rows, stranger], tmp_path / "a.xlsx", {}), RECORDED_AT)
    other_sample = [dict(row, sample_id="AS-OTHER") for row in rows]
    with pytest.raises(AuditImportError, match="sample AS-OTHER is not in this store"):
        import_audit_outcomes(con, _filled(other_sample, tmp_path / "b.xlsx", {}), RECORDED_AT)
    mixed = [*rows, dict(rows[0], sample_id="AS-OTHER")]
    with pytest.raises(AuditImportError, match="expected rows of one sample, found 2"):
        import_audit_outcomes(con, _filled(mixed, tmp_path / "c.xlsx", {}), RECORDED_AT)
    conflict = [dict(rows[0], outcome="CONFIRMED"), dict(rows[0], outcome="NOT_A_CONCERN")]
    with pytest.raises(AuditImportError, match="conflicting outcomes"):
        import_audit_outcomes(con, _filled(conflict, tmp_path / "d.xlsx", {}), RECORDED_AT)
    not_excel = tmp_path / "e.xlsx"
    not_excel.write_text("sample_id,person_id\n")
    with pytest.raises(AuditImportError, match="not a readable Excel workbook"):
        import_audit_outcomes(con, not_excel, RECORDED_AT)
    assert con.execute("SELECT count(*) FROM audit_outcomes").fetchone()[0] == 0


def test_mark_audited(sampled):
    con, result, _ = sampled
    assert mark_audited(con, result.sample_id, date(2026, 12, 12)) == 4
    assert con.execute("SELECT audited_on FROM audit_samples").fetchone()[0] == date(2026, 12, 12)
    with pytest.raises(SampleError, match="no audit sample 'AS-NOPE'"):
        mark_audited(con, "AS-NOPE", date(2026, 12, 12))
    with pytest.raises(SampleError, match="before the sample's as-at date"):
        mark_audited(con, result.sample_id, date(2026, 11, 1))


def test_no_outcomes_no_rates(store):
    assert confirmation_rates(store) == []
