"""The SSD as exported (issue 24, part 1): fixtures written from each export tool's documented
behaviour, read into the contract tables with nothing quarantined that a tool merely laid out;
then the bundled sample re-exported in every style gives the same exceptions as the original."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import SAMPLE_AS_AT
from ssd_exports import STYLES, reexport

from caseflags.ingest.csv_reader import UNQUOTED_JSON
from caseflags.ingest.extracts import parse_extract
from caseflags.runbook import run_without_prefect
from caseflags.sample_data import SAMPLE_DELIVERY
from caseflags.settings import load_config
from caseflags.store.database import connect

PERSON_SSD = (
    "pers_legacy_id,pers_person_id,pers_upn,pers_forename,pers_surname,pers_sex,pers_gender,pers_ethnicity,"
    "pers_dob,pers_single_unique_id,pers_upn_unknown,pers_send_flag,pers_expected_dob,pers_death_date,"
    "pers_is_mother,pers_nationality"
)
FACTORS_SSD = "cinf_table_id,cinf_assessment_id,cinf_assessment_factors_json"


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def person_rows() -> list[str]:
    return [
        "L1,P1,A123456789012,Ann,Smith,F,F,WBRI,2014-01-01 00:00:00.000,9434765919,NULL,Y    ,NULL,NULL,NULL,NULL",
        "L2,P2,NULL,Ben,Jones,M,M,NULL,2016-03-18 00:00:00.000,NULL,UN5,N    ,NULL,NULL,NULL,GB",
    ]


def test_ssms_with_headers_nulls_datetimes_padding_bom_crlf(tmp_path):
    text = "\r\n".join([PERSON_SSD, *person_rows()]) + "\r\n"
    path = write(tmp_path, "ssd_person.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    parsed = parse_extract(path, "ssd_person")
    assert parsed.quarantine.height == 0 and parsed.rows_loaded == 2
    rows = {r["pers_person_id"]: r for r in parsed.rows().iter_rows(named=True)}
    assert rows["P1"]["pers_dob"] == date(2014, 1, 1) and rows["P1"]["pers_send_flag"] is True
    assert rows["P2"]["pers_upn"] is None and rows["P2"]["pers_single_unique_id"] is None
    assert rows["P2"]["pers_send_flag"] is False
    # The NULL literal is counted per column: the officer sees it happened.
    assert parsed.missing_literals["NULL"] == {
        "pers_upn": 1,
        "pers_single_unique_id": 1,
        "pers_upn_unknown": 1,
        "pers_expected_dob": 2,
        "pers_death_date": 2,
    }
    assert parsed.identifier_issues.height == 0  # the word NULL is no invalid UPN
    assert "pers_legacy_id" in parsed.unused_columns and "pers_nationality" in parsed.unused_columns


def test_ssms_quoted_json_with_commas_and_unquoted_json_without(tmp_path):
    text = "\r\n".join([FACTORS_SSD, 'T1,A1,"[""1A"", ""2B""]"', 'T2,A2,["4A"]', "T3,A3,NULL"]) + "\r\n"
    parsed = parse_extract(write(tmp_path, "ssd_assessment_factors.csv", text.encode()), "ssd_assessment_factors")
    values = dict(parsed.rows().select("cinf_assessment_id", "cinf_assessment_factors_json").iter_rows())
    assert values == {"A1": ["1A", "2B"], "A2": ["4A"]}
    assert parsed.quarantine.select("line", "reason").rows() == [(4, "blank required value")]


def test_ssms_unquoted_json_is_rejoined_and_ambiguous_rows_refused_by_line(tmp_path):
    rows = [FACTORS_SSD, 'T1,A1,["1A", "2B"]', 'T2,A2,["1A","2B","3C"]', 'T3,A3,["1A", "2B"', "T4,A4,[1A, 2B]"]
    text = "\r\n".join(rows) + "\r\n"
    parsed = parse_extract(write(tmp_path, "ssd_assessment_factors.csv", text.encode()), "ssd_assessment_factors")
    values = dict(parsed.rows().select("cinf_assessment_id", "cinf_assessment_factors_json").iter_rows())
    assert values == {"A1": ["1A", "2B"], "A2": ["1A", "2B", "3C"]}
    reasons = dict(parsed.quarantine.select("line", "reason").iter_rows())
    assert reasons == {4: UNQUOTED_JSON, 5: UNQUOTED_JSON}
    assert parsed.rows_read == 4 and parsed.rows_quarantined == 2


def test_ssms_unquoted_text_with_a_comma_is_refused_by_line_with_the_reason(tmp_path):
    header = (
        "invo_involvements_id,invo_professional_id,invo_professional_role_id,invo_person_id,"
        "invo_involvement_start_date,invo_involvement_end_date,invo_worker_change_reason"
    )
    text = (
        "\r\n".join(
            [
                header,
                "I1,W1,CW,P1,2026-01-01 00:00:00.000,NULL,NULL",
                "I2,W1,CW,P1,2026-01-01 00:00:00.000,2026-02-01 00:00:00.000,Left, on leave",
            ]
        )
        + "\r\n"
    )
    parsed = parse_extract(write(tmp_path, "ssd_involvements.csv", text.encode()), "ssd_involvements")
    assert parsed.rows_loaded == 1
    ((line, reason),) = parsed.quarantine.select("line", "reason").rows()
    assert line == 3 and reason.startswith(
        "expected 7 fields, found 8: a value holding a comma written without quoting"
    )


def test_ssms_unicode_utf16_with_bom(tmp_path):
    text = "\r\n".join([PERSON_SSD, *person_rows()]) + "\r\n"
    path = write(tmp_path, "ssd_person.csv", b"\xff\xfe" + text.encode("utf-16-le"))
    parsed = parse_extract(path, "ssd_person")
    assert parsed.rows_loaded == 2 and parsed.quarantine.height == 0
    assert parsed.content_sha256 and parsed.rows().get_column("pers_forename").to_list() == ["Ann", "Ben"]


@pytest.mark.parametrize("trimmed", [True, False], ids=["sqlcmd -W", "sqlcmd padded"])
def test_sqlcmd_underline_trailer_padding_cp1252(tmp_path, trimmed):
    names = PERSON_SSD.split(",")
    rows = [r.split(",") for r in person_rows()]
    rows[1][3] = "Zoë"
    widths = [max(len(n), *(len(r[i]) for r in rows)) + (0 if trimmed else 4) for i, n in enumerate(names)]
    pad = (lambda v, w: v) if trimmed else (lambda v, w: v.ljust(w))
    lines = [
        ",".join(pad(n, w) for n, w in zip(names, widths)),
        ",".join("-" * (len(n) if trimmed else w) for n, w in zip(names, widths)),
        *(",".join(pad(v, w) for v, w in zip(r, widths)) for r in rows),
        "",
        "(2 rows affected)",
    ]
    path = write(tmp_path, "ssd_person.csv", ("\r\n".join(lines) + "\r\n").encode("cp1252"))
    parsed = parse_extract(path, "ssd_person")
    assert parsed.rows_read == 2 and parsed.rows_loaded == 2 and parsed.quarantine.height == 0
    assert parsed.rows().get_column("pers_forename").to_list() == ["Ann", "Zoë"]
    assert parsed.rows().get_column("pers_dob").to_list() == [date(2014, 1, 1), date(2016, 3, 18)]


def test_postgresql_copy_csv_header_json_nulls_booleans_timestamps(tmp_path):
    factors = "\n".join([FACTORS_SSD, 'T1,A1,"[""1A"", null, null, ""2B"", null]"', 'T2,A2,"[null, ""4A""]"']) + "\n"
    parsed = parse_extract(write(tmp_path, "ssd_assessment_factors.csv", factors.encode()), "ssd_assessment_factors")
    assert dict(parsed.rows().iter_rows()) == {"A1": ["1A", "2B"], "A2": ["4A"]}
    visits = (
        "\n".join(
            [
                "cinv_cin_visit_id,cinv_person_id,cinv_cin_visit_date,cinv_cin_visit_seen,"
                "cinv_cin_visit_seen_alone,cinv_cin_visit_bedroom",
                "V1,P1,2026-01-05 00:00:00,t,f,",
                "V2,P1,2026-02-05 09:30:00,Y,N,N",
            ]
        )
        + "\n"
    )
    parsed = parse_extract(write(tmp_path, "ssd_cin_visits.csv", visits.encode()), "ssd_cin_visits")
    assert parsed.quarantine.height == 0
    assert parsed.rows().select("cinv_cin_visit_seen", "cinv_cin_visit_seen_alone").rows() == [
        (True, False),
        (True, False),
    ]


def test_excel_workbook_with_dates_and_null_text(tmp_path):
    frame = pl.DataFrame(
        {
            "pers_person_id": ["P1", "P2"],
            "pers_dob": [date(2014, 1, 1), None],
            "pers_expected_dob": [None, date(2027, 1, 10)],
            "pers_upn": ["NULL", "A123456789012"],
            "pers_send_flag": ["Y", "N"],
        }
    )
    path = tmp_path / "ssd_person.xlsx"
    frame.write_excel(path)
    parsed = parse_extract(path, "ssd_person")
    assert parsed.rows_loaded == 2 and parsed.quarantine.height == 0
    assert parsed.rows().select("pers_person_id", "pers_dob", "pers_expected_dob", "pers_upn").rows() == [
        ("P1", date(2014, 1, 1), None, None),
        ("P2", None, date(2027, 1, 10), "A123456789012"),
    ]


# --- the bundled sample, re-exported in each style ---------------------------------------------


@pytest.fixture(scope="module")
def baseline(sample_run):
    db, _, record = sample_run
    con = connect(db, read_only=True)
    try:
        found = set(
            con.execute(
                "SELECT check_id, coalesce(person_id, '') FROM exceptions WHERE run_id = ?", [SAMPLE_AS_AT]
            ).fetchall()
        )
    finally:
        con.close()
    return db, found, record


@pytest.mark.parametrize("style", STYLES)
def test_sample_reexported_gives_the_same_exceptions(baseline, tmp_path, style):
    original_db, original, original_record = baseline
    delivery = reexport(SAMPLE_DELIVERY, tmp_path / style, style)
    db = tmp_path / "store.duckdb"
    # The linkage model is configuration both runs share (as in test_typical_night).
    shutil.copy(original_db.with_suffix(".linkage-model.json"), db.with_suffix(".linkage-model.json"))
    con = connect(db)
    try:
        record = run_without_prefect(
            con, delivery, date.fromisoformat(SAMPLE_AS_AT), tmp_path / "reports", load_config(), db_path=db
        )
        found = set(
            con.execute(
                "SELECT check_id, coalesce(person_id, '') FROM exceptions WHERE run_id = ?", [SAMPLE_AS_AT]
            ).fetchall()
        )
    finally:
        con.close()
    ssd = {t: e for t, e in record["extracts"].items() if t.startswith("ssd_")}
    assert {t: (e["status"], e["rows_quarantined"]) for t, e in ssd.items()} == {t: ("LOADED", 0) for t in ssd}
    assert {t: e["rows_loaded"] for t, e in ssd.items()} == {
        t: original_record["extracts"][t]["rows_loaded"] for t in ssd
    }
    assert not record["refused_files"]
    assert all(c["status"] == "EVALUATED" for c in record["checks"].values())
    assert found == original
