"""Imports refuse what they must not read (issue 27): workbooks that inflate beyond the limit or
declare too many cells (refused before any parsing), formulas in any cell, free text longer than
the one cap (limits.max_text_length, shared with the web), and edits to read-only columns."""

from __future__ import annotations

import re
import shutil
import struct
import zipfile
from pathlib import Path

import fastexcel
import pytest
import xlsxwriter
from test_audit_outcomes import RECORDED_AT, _outcome_rows, sampled  # noqa: F401 (fixture)
from test_review_import import GP, NOW, SCHOOL, VOICE, edit_cells, exported, find_row  # noqa: F401 (fixture)

from caseflags.audit.model import OUTCOME_COLUMNS, AuditImportError
from caseflags.audit.outcomes import import_audit_outcomes
from caseflags.config import MAX_TEXT_LENGTH
from caseflags.outputs import workbook_guard
from caseflags.outputs.review_import import ReviewImportError, import_review
from caseflags.settings import load_config
from caseflags.web import audit as web_audit
from caseflags.web import reviews as web_reviews

SMALL = {"max_text_length": 2000, "max_workbook_bytes": 300_000, "max_workbook_cells": 10_000}


@pytest.fixture
def no_parsing(monkeypatch):
    """Fails the test if a spreadsheet library is asked to parse the file."""

    def refuse(*args, **kwargs):
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr(fastexcel, "read_excel", refuse)


def _returned(out, tmp_path) -> Path:
    path = tmp_path / "returned.xlsx"
    shutil.copy(out.exceptions_xlsx, path)
    return path


def _rewrite_part(path: Path, part_pattern: str, change) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    for name in entries:
        if re.fullmatch(part_pattern, name):
            entries[name] = change(entries[name])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


# --- one cap for free text -------------------------------------------------------------------


def test_one_free_text_cap_for_the_web_and_both_imports():
    assert load_config().limits["max_text_length"] == MAX_TEXT_LENGTH == 2000
    assert web_reviews.MAX_NOTE_LENGTH == web_audit.MAX_NOTE_LENGTH == MAX_TEXT_LENGTH


def test_a_review_note_over_the_cap_is_refused_naming_the_cell(exported, tmp_path):
    con, out = exported
    returned = _returned(out, tmp_path)
    row = find_row(returned, "GP_NOT_KNOWN", GP["exception_id"])
    edit_cells(returned, "GP_NOT_KNOWN", {("review_note", row): "x" * (MAX_TEXT_LENGTH + 1)})
    with pytest.raises(ReviewImportError) as refused:
        import_review(con, returned, now=NOW)
    assert any(
        f"sheet 'GP not known' row {row} column N (review_note): 2,001 characters" in p for p in refused.value.problems
    ), refused.value.problems
    edit_cells(returned, "GP_NOT_KNOWN", {("review_note", row): "x" * MAX_TEXT_LENGTH})
    assert import_review(con, returned, now=NOW).annotations_added == 1


def test_an_auditor_note_over_the_cap_is_refused(sampled, tmp_path):  # noqa: F811
    con, result, workbook = sampled
    rows = _outcome_rows(workbook)
    path = _outcomes_file(tmp_path / "filled.xlsx", rows, note="n" * (MAX_TEXT_LENGTH + 1))
    with pytest.raises(AuditImportError, match="auditor_note has 2,001 characters, more than the limit of 2,000"):
        import_audit_outcomes(con, path, RECORDED_AT)
    assert con.execute("SELECT count(*) FROM audit_outcomes").fetchone()[0] == 0
    path = _outcomes_file(tmp_path / "filled2.xlsx", rows, note="n" * MAX_TEXT_LENGTH)
    assert import_audit_outcomes(con, path, RECORDED_AT).rows_imported == 1


def _outcomes_file(path: Path, rows: list[dict], note: str = "", formula: str | None = None) -> Path:
    """The auditors' copy with the first flagged row CONFIRMED and its note (or a formula)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Outcomes")
    sheet.write_row(0, 0, OUTCOME_COLUMNS)
    first = next(i for i, r in enumerate(rows) if r["flagged"] == "Y")
    note_col = OUTCOME_COLUMNS.index("auditor_note")
    for index, row in enumerate(rows, start=1):
        values = dict(row)
        if index - 1 == first:
            values["outcome"], values["auditor_note"] = "CONFIRMED", note
        sheet.write_row(index, 0, [values.get(c) or "" for c in OUTCOME_COLUMNS])
        if index - 1 == first and formula:
            sheet.write_formula(index, note_col, formula, None, 0)
    book.close()
    return path


# --- formulas --------------------------------------------------------------------------------


def test_a_formula_in_auditor_note_is_refused_not_stored_as_its_value(sampled, tmp_path):  # noqa: F811
    con, _result, workbook = sampled
    path = _outcomes_file(tmp_path / "filled.xlsx", _outcome_rows(workbook), formula='=HYPERLINK("http://x","y")')
    with pytest.raises(AuditImportError, match=r"sheet 'Outcomes' cell [A-Z]+\d+: holds a formula"):
        import_audit_outcomes(con, path, RECORDED_AT)
    assert con.execute("SELECT count(*) FROM audit_outcomes").fetchone()[0] == 0


# --- read-only columns -----------------------------------------------------------------------


def test_edits_to_read_only_columns_are_refused_naming_the_cells(exported, tmp_path):
    con, out = exported
    returned = _returned(out, tmp_path)
    row = find_row(returned, "GP_NOT_KNOWN", GP["exception_id"])
    edit_cells(
        returned,
        "GP_NOT_KNOWN",
        {("person_id", row): "C999", ("agency", row): "EDUCATION", ("review_status", row): "IN_HAND"},
    )
    with pytest.raises(ReviewImportError) as refused:
        import_review(con, returned, now=NOW)
    problems = refused.value.problems
    assert any(
        f"sheet 'GP not known' row {row} column E (person_id): read-only, was 'C2', now 'C999'" in p for p in problems
    ), problems
    assert any(
        f"sheet 'GP not known' row {row} column F (agency): read-only, was 'SOCIAL_CARE', now 'EDUCATION'" in p
        for p in problems
    ), problems
    assert con.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0


def test_an_agency_workbook_refuses_read_only_edits_too(exported, tmp_path):
    con, out = exported
    returned = tmp_path / "school.xlsx"
    shutil.copy(out.agency_files["EDUCATION"][1], returned)
    row = find_row(returned, "SCHOOL_ATTENDANCE_LOW", SCHOOL["exception_id"])
    edit_cells(returned, "SCHOOL_ATTENDANCE_LOW", {("severity", row): "LOW"})
    with pytest.raises(ReviewImportError, match=r"\(severity\): read-only, was 'MEDIUM', now 'LOW'"):
        import_review(con, returned, now=NOW)


def test_an_untouched_workbook_passes_the_read_only_check(exported, tmp_path):
    con, out = exported
    assert import_review(con, _returned(out, tmp_path), now=NOW).annotations_added == 0
    assert import_review(con, out.agency_files["EDUCATION"][1], now=NOW).annotations_added == 0


# --- size and cells, before parsing ------------------------------------------------------------


def test_a_workbook_inflating_beyond_the_limit_is_refused_before_parsing(exported, tmp_path, no_parsing):
    con, out = exported
    returned = _returned(out, tmp_path)
    # a note of a million characters: a few KB on disk, a MB inflated
    _rewrite_part(
        returned,
        r"xl/worksheets/sheet\d+\.xml",
        lambda xml: xml.replace(
            b"</sheetData>",
            b'<row r="999"><c r="A999" t="inlineStr"><is><t>' + b"a" * 1_000_000 + b"</t></is></c></row></sheetData>",
            1,
        ),
    )
    assert returned.stat().st_size < 50_000
    with pytest.raises(ReviewImportError, match=r"inflates to [\d,]+ bytes, more than the limit of 300,000"):
        import_review(con, returned, now=NOW, limits=SMALL)
    with pytest.raises(AuditImportError, match="more than the limit of 300,000"):
        import_audit_outcomes(con, returned, RECORDED_AT, limits=SMALL)


def _understate_sizes(path: Path, size: int = 100) -> None:
    """Rewrite the zip directory so every part claims `size` uncompressed bytes (a lying zip)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + 4] = struct.pack("<I", size)
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def test_a_zip_whose_directory_understates_its_sizes_is_still_refused(exported, tmp_path, no_parsing):
    con, out = exported
    returned = _returned(out, tmp_path)
    _rewrite_part(
        returned,
        r"xl/sharedStrings\.xml|xl/worksheets/sheet1\.xml",
        lambda xml: xml + b"<!--" + b"b" * 1_000_000 + b"-->",
    )
    _understate_sizes(returned)
    problems = workbook_guard.workbook_problems(returned, SMALL)
    assert problems and "although its directory declares less" in problems[0], problems
    with pytest.raises(ReviewImportError, match="although its directory declares less"):
        import_review(con, returned, now=NOW, limits=SMALL)


def test_a_sheet_declaring_too_many_cells_is_refused_before_parsing(exported, tmp_path, no_parsing):
    con, out = exported
    returned = _returned(out, tmp_path)
    _rewrite_part(
        returned,
        r"xl/worksheets/sheet2\.xml",
        lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml),
    )
    with pytest.raises(ReviewImportError, match=r"declares 17,179,869,184 cells, more than the limit of 5,000,000"):
        import_review(con, returned, now=NOW)


def test_the_default_limits_let_an_ordinary_workbook_through(exported, tmp_path):
    _con, out = exported
    assert workbook_guard.workbook_problems(out.exceptions_xlsx) == []
    assert workbook_guard.formula_cells(out.exceptions_xlsx) == []


# --- delivered workbooks too -----------------------------------------------------------------


def test_a_delivered_workbook_declaring_too_many_cells_is_refused_by_name(tmp_path, no_parsing, monkeypatch):
    import polars as pl

    from caseflags.ingest.extracts import ExtractRefused, parse_extract

    monkeypatch.setattr(pl, "read_excel", lambda *a, **k: (_ for _ in ()).throw(AssertionError("parsed")))
    path = tmp_path / "meetings.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("meetings").write_row(0, 0, ["meeting_id", "person_id"])
    book.close()
    _rewrite_part(
        path,
        r"xl/worksheets/sheet1\.xml",
        lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml),
    )
    with pytest.raises(ExtractRefused) as refused:
        parse_extract(path, "meetings")
    assert "declares 17,179,869,184 cells" in str(refused.value) and "deliver it as CSV" in str(refused.value)
