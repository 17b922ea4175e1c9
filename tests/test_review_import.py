"""Officers' annotations through a real .xlsx: export, edit cells, import, re-export; and bad
workbooks that must change nothing.

Cells are edited inside the written workbook's XML (as a spreadsheet program saving the file
would), so the import reads exactly the file the officer returns.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import fastexcel
import pytest
import xlsxwriter
from test_outputs_lifecycle import ALL_EVALUATED, DAY1, DAY2, exc, read_csv, record_run

from caseflags.outputs.lifecycle import update_lifecycle
from caseflags.outputs.review_import import ReviewImportError, import_review
from caseflags.outputs.run_outputs import write_run_outputs
from caseflags.outputs.workbook import EXPORTED_NOTE_COLUMN, sheet_name_for

NOW = datetime(2026, 11, 23, 14, 5)
VOICE = exc("VOICE_OF_CHILD_ABSENT", "C1")
GP = exc("GP_NOT_KNOWN", "C2")
SCHOOL = exc("SCHOOL_ATTENDANCE_LOW", "C3", agency="EDUCATION", severity="MEDIUM")


# ---- helpers: read a sheet, edit cells in place ---------------------------------------------


def _sheet(path: Path, sheet: str) -> tuple[list[str], list[dict]]:
    """A sheet's machine column names (its first row, hidden on check sheets) and its rows; a
    check sheet's second row (the plain headers) is skipped."""
    skip = None if sheet in ("Summary", "_caseflags") else 1
    table = fastexcel.read_excel(str(path)).load_sheet(sheet, header_row=0, skip_rows=skip, dtypes="string").to_arrow()
    return list(table.schema.names), table.to_pylist()


def _letter(index: int) -> str:
    letters, index = "", index + 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def find_row(path: Path, check_id: str, exception_id: str) -> int:
    """The Excel row number (machine names = 1, plain headers = 2) of an exception on its check's sheet."""
    _, rows = _sheet(path, sheet_name_for(check_id))
    return next(i + 3 for i, r in enumerate(rows) if r["exception_id"] == exception_id)


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str:
    workbook = archive.read("xl/workbook.xml").decode()
    rel_id = re.search(
        rf'<sheet name="{re.escape(escape(sheet))}" sheetId="\d+"(?: state="\w+")? r:id="(rId\d+)"', workbook
    ).group(1)
    rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    target = re.search(rf'<Relationship Id="{rel_id}" Type="[^"]+" Target="([^"]+)"', rels).group(1)
    return "xl/" + target.lstrip("/").removeprefix("xl/")


def edit_cells(path: Path, check_id_or_sheet: str, edits: dict[tuple[str, int], str]) -> None:
    """Set cells (column name, Excel row) of a sheet to text values, rewriting the file."""
    sheet = sheet_name_for(check_id_or_sheet) if not check_id_or_sheet.startswith("_") else check_id_or_sheet
    header, _ = _sheet(path, sheet)
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet)
        entries = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    xml = entries[part].decode()
    for (column, row), value in edits.items():
        ref = f"{_letter(header.index(column))}{row}"
        cell = re.compile(rf'<c r="{ref}"(?: [^>]*)?(?:/>|>.*?</c>)', re.S)
        assert cell.search(xml), f"cell {ref} not written in {sheet}"
        xml = cell.sub(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>', xml, count=1)
    entries[part] = xml.encode()
    temp = path.with_suffix(".editing")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    temp.replace(path)


def _annotations(con) -> list[tuple]:
    return con.execute("SELECT * FROM annotations ORDER BY ALL").fetchall()


@pytest.fixture
def exported(store, tmp_path):
    record_run(store, "run-1", DAY1, [VOICE, GP, SCHOOL], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    outputs = write_run_outputs(store, "run-1", DAY1, tmp_path / "run-1")
    return store, outputs


# ---- round trip -----------------------------------------------------------------------------


def test_annotation_round_trip_through_xlsx(exported, tmp_path):
    con, out = exported
    returned = tmp_path / "returned.xlsx"
    shutil.copy(out.exceptions_xlsx, returned)
    voice_row = find_row(returned, "VOICE_OF_CHILD_ABSENT", VOICE["exception_id"])
    gp_row = find_row(returned, "GP_NOT_KNOWN", GP["exception_id"])
    edit_cells(
        returned,
        "VOICE_OF_CHILD_ABSENT",
        {
            ("review_status", voice_row): "FALSE_POSITIVE",
            ("review_note", voice_row): "Seen alone 12/11, recorded on paper",
        },
    )
    edit_cells(returned, "GP_NOT_KNOWN", {("review_status", gp_row): "in_hand"})  # any case is accepted

    summary = import_review(con, returned, now=NOW, expiry_days=90)
    assert (summary.rows_read, summary.annotations_added, summary.unchanged) == (3, 2, 1)
    assert summary.added_by_status == {"FALSE_POSITIVE": 1, "IN_HAND": 1}
    assert _annotations(con) == sorted(
        [
            (GP["exception_id"], "IN_HAND", None, NOW, "returned.xlsx", None, 1),
            (
                VOICE["exception_id"],
                "FALSE_POSITIVE",
                "Seen alone 12/11, recorded on paper",
                NOW,
                "returned.xlsx",
                date(2027, 2, 21),
                1,
            ),
        ]
    )

    # The next run's files carry the reviews, in the workbook as well as the CSV.
    record_run(con, "run-2", DAY2, [VOICE, GP, SCHOOL], ALL_EVALUATED)
    update_lifecycle(con, "run-2", DAY2)
    out2 = write_run_outputs(con, "run-2", DAY2, tmp_path / "run-2")
    _, rows = read_csv(out2.exceptions_csv)
    reviews = {r["exception_id"]: (r["review_status"], r["review_note"]) for r in rows}
    assert reviews == {
        VOICE["exception_id"]: ("FALSE_POSITIVE", "Seen alone 12/11, recorded on paper"),
        GP["exception_id"]: ("IN_HAND", ""),
        SCHOOL["exception_id"]: ("UNREVIEWED", ""),
    }
    _, sheet_rows = _sheet(out2.exceptions_xlsx, sheet_name_for("VOICE_OF_CHILD_ABSENT"))
    assert (sheet_rows[0]["review_status"], sheet_rows[0]["review_note"]) == (
        "FALSE_POSITIVE",
        "Seen alone 12/11, recorded on paper",
    )
    assert sheet_rows[0]["last_review"] == "FALSE_POSITIVE on 2026-11-23, expires 2027-02-21"

    # Importing the same file again, or the untouched run-2 workbook, adds nothing.
    assert import_review(con, returned, now=datetime(2026, 11, 24, 9, 0)).annotations_added == 0
    assert import_review(con, out2.exceptions_xlsx, now=datetime(2026, 11, 24, 9, 0)).annotations_added == 0
    # An older file whose rows were not touched never undoes a newer review.
    assert import_review(con, out.exceptions_xlsx, now=datetime(2026, 11, 24, 9, 5)).annotations_added == 0
    assert len(_annotations(con)) == 2


def test_latest_annotation_wins(exported, tmp_path):
    con, out = exported
    row = find_row(out.exceptions_xlsx, "GP_NOT_KNOWN", GP["exception_id"])
    edit_cells(out.exceptions_xlsx, "GP_NOT_KNOWN", {("review_status", row): "IN_HAND"})
    import_review(con, out.exceptions_xlsx, now=NOW)
    edit_cells(
        out.exceptions_xlsx,
        "GP_NOT_KNOWN",
        {("review_status", row): "RESOLVED_AT_SOURCE", ("review_note", row): "Registered with practice"},
    )
    import_review(con, out.exceptions_xlsx, now=datetime(2026, 11, 23, 16, 0))
    assert con.execute(
        "SELECT review_status, review_note FROM exceptions_current WHERE exception_id = $e", {"e": GP["exception_id"]}
    ).fetchone() == ("RESOLVED_AT_SOURCE", "Registered with practice")
    assert len(_annotations(con)) == 2


def test_an_agency_workbook_can_be_returned(exported):
    con, out = exported
    education_xlsx = out.agency_files["EDUCATION"][1]
    row = find_row(education_xlsx, "SCHOOL_ATTENDANCE_LOW", SCHOOL["exception_id"])
    edit_cells(education_xlsx, "SCHOOL_ATTENDANCE_LOW", {("review_status", row): "IN_HAND"})
    assert import_review(con, education_xlsx, now=NOW).annotations_added == 1


# ---- bad workbooks change nothing -----------------------------------------------------------


@pytest.fixture
def reviewed(exported):
    """A store with one annotation already, and a returned workbook with one valid edit."""
    con, out = exported
    row = find_row(out.exceptions_xlsx, "GP_NOT_KNOWN", GP["exception_id"])
    edit_cells(out.exceptions_xlsx, "GP_NOT_KNOWN", {("review_status", row): "IN_HAND"})
    import_review(con, out.exceptions_xlsx, now=NOW)
    voice_row = find_row(out.exceptions_xlsx, "VOICE_OF_CHILD_ABSENT", VOICE["exception_id"])
    edit_cells(out.exceptions_xlsx, "VOICE_OF_CHILD_ABSENT", {("review_status", voice_row): "ACCEPTED_RISK"})
    return con, out, voice_row


def _assert_nothing_applied(con, before, path, message_pattern):
    with pytest.raises(ReviewImportError, match=message_pattern) as error:
        import_review(con, path, now=datetime(2026, 11, 24, 8, 0))
    assert _annotations(con) == before
    assert "nothing was imported" in str(error.value)
    return error.value


def test_unknown_exception_id_rejects_the_whole_file(reviewed):
    con, out, voice_row = reviewed
    before = _annotations(con)
    edit_cells(out.exceptions_xlsx, "GP_NOT_KNOWN", {("exception_id", 3): "deadbeefdeadbeef"})
    _assert_nothing_applied(
        con,
        before,
        out.exceptions_xlsx,
        r"sheet 'GP not known' row 3 column A \(exception_id\): unknown exception id 'deadbeefdeadbeef'",
    )


def test_unknown_status_rejects_the_whole_file(reviewed):
    con, out, voice_row = reviewed
    before = _annotations(con)
    header, _ = _sheet(out.exceptions_xlsx, sheet_name_for("SCHOOL_ATTENDANCE_LOW"))
    edit_cells(out.exceptions_xlsx, "SCHOOL_ATTENDANCE_LOW", {("review_status", 3): "Done"})
    column = _letter(header.index("review_status"))
    _assert_nothing_applied(
        con,
        before,
        out.exceptions_xlsx,
        rf"sheet 'Low school attendance' row 3 column {column} \(review_status\): unknown status 'Done'",
    )


def test_exception_on_the_wrong_check_sheet_is_rejected(reviewed):
    con, out, _ = reviewed
    before = _annotations(con)
    edit_cells(out.exceptions_xlsx, "GP_NOT_KNOWN", {("exception_id", 3): VOICE["exception_id"]})
    error = _assert_nothing_applied(con, before, out.exceptions_xlsx, r"sheet '[\w ]+' row 3 column A \(exception_id\)")
    assert any("belongs to check VOICE_OF_CHILD_ABSENT, not 'GP_NOT_KNOWN'" in p for p in error.problems)


def test_a_sheet_that_is_not_ours_rejects_the_whole_file(reviewed, tmp_path):
    con, out, _ = reviewed
    before = _annotations(con)
    # Re-save the returned workbook with an extra sheet of the officer's own notes.
    patched = tmp_path / "with-notes.xlsx"
    reader = fastexcel.read_excel(str(out.exceptions_xlsx))
    workbook = xlsxwriter.Workbook(str(patched))
    for name in reader.sheet_names:
        table = reader.load_sheet(name, header_row=None, dtypes="string").to_arrow().to_pylist()
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(table):
            for c, value in enumerate(row.values()):
                if value is not None:
                    sheet.write_string(r, c, value)
    workbook.add_worksheet("My notes").write_string(0, 0, "call school on Monday")
    workbook.close()
    _assert_nothing_applied(con, before, patched, r"sheet 'My notes' is not a caseflags exceptions sheet")


def test_a_workbook_that_is_not_ours_is_rejected(store, tmp_path):
    other = tmp_path / "other.xlsx"
    workbook = xlsxwriter.Workbook(str(other))
    workbook.add_worksheet("Sheet1").write_row(0, 0, ["exception_id", "review_status"])
    workbook.close()
    _assert_nothing_applied(store, [], other, r"other.xlsx is not a caseflags exceptions workbook")
    not_xlsx = tmp_path / "exceptions.xlsx"
    not_xlsx.write_text("exception_id,review_status\n")
    _assert_nothing_applied(store, [], not_xlsx, r"cannot be read as an .xlsx workbook")


def test_every_problem_is_listed_but_one_message_leads(reviewed):
    con, out, _ = reviewed
    before = _annotations(con)
    edit_cells(out.exceptions_xlsx, "GP_NOT_KNOWN", {("exception_id", 3): "0000000000000000"})
    edit_cells(out.exceptions_xlsx, "SCHOOL_ATTENDANCE_LOW", {("review_status", 3): "??"})
    error = _assert_nothing_applied(con, before, out.exceptions_xlsx, r"\(and 2 more problem\(s\)\)")
    # the unknown id, the unknown status, and the GP row whose id was overwritten (now missing)
    assert len(error.problems) == 3
    assert any("the row of exception" in p and "was removed" in p for p in error.problems)


def test_hidden_export_columns_are_in_every_check_sheet(exported):
    _, out = exported
    header, _ = _sheet(out.exceptions_xlsx, sheet_name_for("GP_NOT_KNOWN"))
    assert header[0] == "exception_id" and header[-1] == EXPORTED_NOTE_COLUMN


# ---- tampering: the import is against the exact workbook written (issue 16) -----------------


def _rewrite_part(path: Path, part: str, change) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    entries[part] = change(entries[part].decode()).encode()
    temp = path.with_suffix(".editing")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    temp.replace(path)


def test_a_deleted_row_rejects_the_whole_file(reviewed):
    con, out, voice_row = reviewed
    before = _annotations(con)
    with zipfile.ZipFile(out.exceptions_xlsx) as archive:
        part = _sheet_part(archive, sheet_name_for("GP_NOT_KNOWN"))
    _rewrite_part(out.exceptions_xlsx, part, lambda xml: re.sub(r'<row r="3".*?</row>', "", xml, count=1, flags=re.S))
    error = _assert_nothing_applied(con, before, out.exceptions_xlsx, r"the row of exception \w+ was removed")
    assert error.problems == [
        f"sheet 'GP not known': the row of exception {GP['exception_id']} was removed; restore it "
        "(rows are never deleted: set review_status instead)"
    ]


def test_a_renamed_sheet_rejects_the_whole_file(reviewed):
    con, out, _ = reviewed
    before = _annotations(con)
    _rewrite_part(
        out.exceptions_xlsx, "xl/workbook.xml", lambda xml: xml.replace('name="GP not known"', 'name="GP done"')
    )
    error = _assert_nothing_applied(
        con, before, out.exceptions_xlsx, r"sheet 'GP done' is not a caseflags exceptions sheet"
    )
    assert any("sheet 'GP not known' of check GP_NOT_KNOWN is missing" in p for p in error.problems)


def test_a_run_the_store_does_not_hold_rejects_the_whole_file(reviewed):
    con, out, _ = reviewed
    before = _annotations(con)
    _, meta = _sheet(out.exceptions_xlsx, "_caseflags")
    row = next(i + 2 for i, r in enumerate(meta) if r["key"] == "run_id")
    edit_cells(out.exceptions_xlsx, "_caseflags", {("value", row): "run-from-elsewhere"})
    _assert_nothing_applied(
        con, before, out.exceptions_xlsx, r"names run run-from-elsewhere, which this store does not hold"
    )


def test_a_formula_is_never_imported_as_its_cached_value(reviewed):
    con, out, voice_row = reviewed
    before = _annotations(con)
    header, _ = _sheet(out.exceptions_xlsx, sheet_name_for("VOICE_OF_CHILD_ABSENT"))
    ref = f"{_letter(header.index('review_note'))}{voice_row}"
    with zipfile.ZipFile(out.exceptions_xlsx) as archive:
        part = _sheet_part(archive, sheet_name_for("VOICE_OF_CHILD_ABSENT"))
    _rewrite_part(
        out.exceptions_xlsx,
        part,
        lambda xml: re.sub(
            rf'<c r="{ref}"(?: [^>]*)?(?:/>|>.*?</c>)', f'<c r="{ref}"><f>1-1</f><v>0</v></c>', xml, count=1, flags=re.S
        ),
    )
    error = _assert_nothing_applied(
        con, before, out.exceptions_xlsx, rf"sheet 'Child not heard' cell {ref}: holds a formula"
    )
    assert len(error.problems) == 1


def test_every_tamper_is_listed_at_once(reviewed):
    con, out, voice_row = reviewed
    before = _annotations(con)
    with zipfile.ZipFile(out.exceptions_xlsx) as archive:
        gp_part = _sheet_part(archive, sheet_name_for("GP_NOT_KNOWN"))
    _rewrite_part(
        out.exceptions_xlsx, gp_part, lambda xml: re.sub(r'<row r="3".*?</row>', "", xml, count=1, flags=re.S)
    )
    _rewrite_part(
        out.exceptions_xlsx, "xl/workbook.xml", lambda xml: xml.replace('name="Low school attendance"', 'name="School"')
    )
    error = _assert_nothing_applied(con, before, out.exceptions_xlsx, r"more problem")
    assert len(error.problems) == 3  # the removed row, the unknown sheet, the missing sheet
