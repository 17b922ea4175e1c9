"""Per-agency folders: only the rows an agency owns, never another agency's record ids or details.

Every text of every file in an agency's folder is scanned, including the xlsx's hidden sheet and
columns (the raw XML parts), not just what a spreadsheet program would show.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from check_fixtures import insert
from test_outputs_lifecycle import ALL_EVALUATED, DAY1, exc, read_csv, record_run

from caseflags.outputs.agencies import agency_folder_name
from caseflags.outputs.lifecycle import update_lifecycle
from caseflags.outputs.run_outputs import write_run_outputs

# Two children known to several agencies; each agency's record ids are distinctive strings.
RECORDS = {
    "SOCIAL_CARE": {"C100": "C100", "C200": "C200"},
    "GP": {"C100": "GPREC-5501", "C200": "GPREC-5502"},
    "COMMUNITY_HEALTH": {"C100": "SIRONA-7781"},
    "MENTAL_HEALTH": {"C200": "AWP-99120"},
}

SOCIAL = exc(
    "GP_NOT_KNOWN",
    "C100",
    detail="Child in Need since 2026-01-05 has no GP registration: confirm the practice.",
    locator="ssd_person C100",
)
GP_STALE = exc(
    "SOCIAL_WORKER_STALE_IN_PARTNER",
    "C100",
    agency="GP",
    entity_type="agency_record",
    entity_id="GPREC-5501",
    # a check that mentions another agency's record for the same child: must not leak
    detail="GP record names a social worker who left on 2026-10-01 (community health record SIRONA-7781 is current).",
    locator="GP record GPREC-5501",
)
GP_SHARE = exc(
    "SELF_HARM_NOT_SHARED",
    "C200",
    agency="GP",
    entity_type="child_agency",
    entity_id="MENTAL_HEALTH",
    detail="Self-harm recorded by GP on 2026-09-02 not shared with MENTAL_HEALTH.",
    locator="GP record GPREC-5502",
)
HEALTH = exc(
    "IDENTITY_CONFLICT",
    "C100",
    agency="COMMUNITY_HEALTH",
    entity_type="agency_record",
    entity_id="SIRONA-7781",
    detail="Date of birth on record SIRONA-7781 differs from the linked child's by 31 days.",
    locator="Sirona record SIRONA-7781",
)
MENTAL = exc(
    "IDENTITY_UNMATCHED",
    "C200",
    agency="MENTAL_HEALTH",
    entity_type="child_agency",
    entity_id="MENTAL_HEALTH",
    detail="Referral on 2026-08-14 could not be matched: check the NHS number.",
    locator="AWP record AWP-99120",
)
SCHOOL = exc(
    "SCHOOL_ATTENDANCE_LOW",
    "C200",
    agency="EDUCATION",
    severity="MEDIUM",
    detail="Attendance 71% over the last 90 days (persistent absence).",
    locator="UPN on the school roll",
)
ROWS = [SOCIAL, GP_STALE, GP_SHARE, HEALTH, MENTAL, SCHOOL]


def _store_with_links(con):
    for agency, by_child in RECORDS.items():
        for person_id, record_id in by_child.items():
            insert(
                con,
                "person_links",
                agency=agency,
                agency_record_id=record_id,
                person_id=person_id,
                method="LA_ID" if agency == "SOCIAL_CARE" else "NHS_NUMBER",
                match_probability=1.0,
            )
    record_run(con, "run-1", DAY1, ROWS, {**ALL_EVALUATED, **{r["check_id"]: "EVALUATED" for r in ROWS}})
    update_lifecycle(con, "run-1", DAY1)


def _folder_text(folder: Path) -> str:
    """Every character of every file in the folder: CSVs as text, xlsx parts unzipped."""
    texts = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".csv":
            texts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                texts.extend(archive.read(name).decode("utf-8") for name in archive.namelist())
    return "\n".join(texts)


def test_no_agency_folder_holds_another_agencys_rows_ids_or_details(store, tmp_path):
    _store_with_links(store)
    out = write_run_outputs(store, "run-1", DAY1, tmp_path)
    owners = {r["agency"] for r in ROWS}
    assert set(out.agency_files) == owners
    assert {p.name for p in (tmp_path / "agencies").iterdir()} == owners

    for agency in owners:
        folder = tmp_path / "agencies" / agency_folder_name(agency)
        text = _folder_text(folder)
        own = [r for r in ROWS if r["agency"] == agency]
        others = [r for r in ROWS if r["agency"] != agency]

        _, csv_rows = read_csv(folder / "exceptions.csv")
        assert sorted(r["exception_id"] for r in csv_rows) == sorted(r["exception_id"] for r in own)
        for row in others:
            assert row["exception_id"] not in text, (agency, row["check_id"])
            assert row["detail"] not in text, (agency, row["check_id"])
            assert row["locator"] not in text, (agency, row["check_id"])
        for other_agency, by_child in RECORDS.items():
            if other_agency == agency or (other_agency == "SOCIAL_CARE" and agency in ("SOCIAL_CARE", "EDUCATION")):
                continue  # an agency's own ids; the LA child id is the LA services' own key
            for record_id in by_child.values():
                assert record_id not in text, (agency, other_agency, record_id)


def test_agency_files_carry_only_the_columns_the_agency_needs(store, tmp_path):
    _store_with_links(store)
    write_run_outputs(store, "run-1", DAY1, tmp_path)
    header, gp_rows = read_csv(tmp_path / "agencies" / "GP" / "exceptions.csv")
    assert "agency" not in header and "person_id" not in header
    assert {r["agency_record_ids"] for r in gp_rows} == {"GPREC-5501", "GPREC-5502"}
    stale = next(r for r in gp_rows if r["check_id"] == "SOCIAL_WORKER_STALE_IN_PARTNER")
    assert stale["detail"] == (
        "GP record names a social worker who left on 2026-10-01 "
        "(community health record [other agency record] is current)."
    )
    header, social_rows = read_csv(tmp_path / "agencies" / "SOCIAL_CARE" / "exceptions.csv")
    assert "person_id" in header and "agency" not in header
    assert [r["person_id"] for r in social_rows] == ["C100"]


def test_an_agency_with_nothing_listed_any_more_keeps_no_stale_folder(store, tmp_path):
    _store_with_links(store)
    write_run_outputs(store, "run-1", DAY1, tmp_path)
    assert (tmp_path / "agencies" / "MENTAL_HEALTH" / "exceptions.csv").exists()
    record_run(store, "run-2", DAY1, [SOCIAL], {r["check_id"]: "EVALUATED" for r in ROWS})
    update_lifecycle(store, "run-2", DAY1)
    write_run_outputs(store, "run-2", DAY1, tmp_path)
    assert {p.name for p in (tmp_path / "agencies").iterdir()} == {"SOCIAL_CARE"}


def test_agency_codes_cannot_escape_the_agencies_folder():
    assert agency_folder_name("MENTAL_HEALTH") == "MENTAL_HEALTH"
    codes = ["../../etc", "GP/../X", "..", "GP_X", "GP X", "GP/X", "GP\\X", "", "Sirona é"]
    names = [agency_folder_name(code) for code in codes]
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name), name
    assert names[0].startswith("etc-") and names[1].startswith("GP____X-")
    assert len(set(names)) == len(codes)  # unique: a hash of the exact code when it had to change
