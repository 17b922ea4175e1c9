"""Ingest in the engine: a clean CSV is typed by DuckDB straight into its staged table, exactly as
the exact reader types it; anything the engine does not judge goes to the exact reader whole."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from caseflags.contracts.identifiers import upn_check_letter
from caseflags.ingest.engine import EngineExtract, stage_csv_in_engine
from caseflags.ingest.extracts import parse_extract
from caseflags.ingest.scan import IngestLimits, scan_file
from caseflags.peak_memory import PeakRss
from caseflags.settings import load_config
from caseflags.store.database import ensure_store
from caseflags.store.publish import stage_table

UPN = upn_check_letter("938201212001") + "938201212001"
RECORDS_HEADER = "agency,agency_record_id,nhs_number,upn,la_person_id,forename,surname,dob,sex,postcode\n"
CLEAN_RECORDS = (
    RECORDS_HEADER
    + "GP,G1,943 476 5919,,,Zoë,O'Neil,2015-03-04,F,BS1 4ST\n"
    + "Sirona,S1,9434765918,,,Amy,Smith,04/03/2015,F,\n"  # an alias; an invalid NHS number (line 3)
    + f"EDUCATION,E1,,{UPN.lower()},,Ben,Jones,2015-03-04 09:30,M,BS2 0AA\n"
    + f"EDUCATION,E2,,X{UPN[1:]},,Cal,Day,,U,\n"  # an invalid UPN (line 5), a blank optional date
    + '"GP","12.0","9434765919",,,"Dee, Jr",Eve,2015-03-04T10:00:00,F,BS3 1AA\n'  # quoted; Excel's .0
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    ensure_store(connection)
    yield connection
    connection.close()


def engine(con, path: Path, table: str):
    config = load_config()
    scan = scan_file(path)
    return stage_csv_in_engine(
        con, path, table, scan, IngestLimits.from_config(config.ingest), config.agencies, scan.sha256
    )


def staged(con, table: str) -> pl.DataFrame:
    return con.sql(f'SELECT * FROM "_staged_{table}"').pl()


def exact(con, path: Path, table: str):
    config = load_config()
    parsed = parse_extract(path, table, config.agencies, role_codes=config.roles)
    stage_table(con, table, parsed.rows())
    return parsed


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_clean_csv_is_typed_in_the_engine_as_the_exact_reader_types_it(tmp_path, con, line_end):
    path = tmp_path / "agency_records.csv"
    path.write_bytes(CLEAN_RECORDS.replace("\n", line_end).encode())
    loaded = engine(con, path, "agency_records")
    assert isinstance(loaded, EngineExtract)
    from_engine = staged(con, "agency_records")
    reference = exact(con, path, "agency_records")
    assert reference.quarantine.height == 0
    assert_frame_equal(from_engine, staged(con, "agency_records"))
    assert from_engine["agency"].cast(pl.Utf8).to_list() == ["GP", "COMMUNITY_HEALTH", "EDUCATION", "EDUCATION", "GP"]
    assert from_engine["agency_record_id"].to_list()[-1] == "12"
    assert_frame_equal(loaded.identifier_issues, reference.identifier_issues)
    assert loaded.identifier_issues.select("line", "column_name").rows() == [(3, "nhs_number"), (5, "upn")]
    assert loaded.ledger() == reference.ledger()
    assert loaded.delivered_columns == reference.delivered_columns


def test_the_engine_keeps_delivery_order_and_lines_in_a_long_file(tmp_path, con):
    rows = [f"EDUCATION,E{i},,{UPN if i % 997 else 'X' + UPN[1:]},,A,B,2015-03-04,M,\n" for i in range(60_000)]
    path = tmp_path / "agency_records.csv"
    path.write_text(RECORDS_HEADER + "".join(rows))
    loaded = engine(con, path, "agency_records")
    assert isinstance(loaded, EngineExtract)
    assert staged(con, "agency_records")["agency_record_id"].to_list() == [f"E{i}" for i in range(60_000)]
    assert loaded.identifier_issues["line"].to_list() == [i + 2 for i in range(0, 60_000, 997)]
    assert loaded.data[["_line", "agency_record_id"]].row(59_999) == (60_001, "E59999")


NOT_CLEAN = {
    "unparseable date": "GP,G1,9434765919,,,A,B,2015-13-45,F,\n",
    "blank required value": "GP,,9434765919,,,A,B,2015-03-04,F,\n",
    "unknown code": "NOBODY,G1,9434765919,,,A,B,2015-03-04,F,\n",
    "NULL literal": "GP,G1,NULL,,,A,B,2015-03-04,F,\n",
    "SSD placeholder": "GP,G1,9434765919,,,SSD_PH,B,2015-03-04,F,\n",
    "sentinel date": "GP,G1,9434765919,,,A,B,1900-01-01,F,\n",
    "padding": "GP,G1 ,9434765919,,,A,B,2015-03-04,F,\n",
    "quote inside a value": 'GP,G1,9434765919,,,A"x,B,2015-03-04,F,\n',
    "control character in an identifier": "GP,G\t1,9434765919,,,A,B,2015-03-04,F,\n",
    "duplicate key": "GP,G0,9434765919,,,A,B,2015-03-04,F,\n",
    "too few fields": "GP,G1,9434765919,,,A,B,2015-03-04,F\n",
    "too many fields": "GP,G1,9434765919,,,A,B,2015-03-04,F,,\n",
    "quoted line break": 'GP,G1,9434765919,,,"A\nA",B,2015-03-04,F,\n',
    "blank line": "\nGP,G1,9434765919,,,A,B,2015-03-04,F,\n",
    "sqlcmd trailer": "GP,G1,9434765919,,,A,B,2015-03-04,F,\n\n(2 rows affected)\n",
}


@pytest.mark.parametrize("case", sorted(NOT_CLEAN))
def test_a_file_the_engine_does_not_judge_goes_to_the_exact_reader_and_nothing_is_staged(tmp_path, con, case):
    path = tmp_path / "agency_records.csv"
    path.write_text(RECORDS_HEADER + "GP,G0,9434765919,,,A,B,2015-03-04,F,\n" + NOT_CLEAN[case])
    assert engine(con, path, "agency_records") is None
    assert not con.sql("SELECT * FROM duckdb_tables() WHERE table_name = '_staged_agency_records'").fetchall()


@pytest.mark.parametrize("case", ["NULL literal", "SSD placeholder", "unknown code", "unparseable date"])
def test_a_file_of_plain_values_is_still_judged_value_by_value(tmp_path, con, case):
    # The scan found every value's shape plain (no value's shape is judged again): the literals,
    # codes and dates still are.
    path = tmp_path / "agency_records.csv"
    path.write_text(RECORDS_HEADER + "GP,G0,9434765919,,,A,B,2015-03-04,F,\n" + NOT_CLEAN[case])
    assert scan_file(path).plain_ascii_values
    assert engine(con, path, "agency_records") is None


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_file_of_plain_values_loads_as_the_exact_reader_loads_it(tmp_path, con, line_end):
    path = tmp_path / "agency_records.csv"
    text = (
        RECORDS_HEADER + "GP,G1,943 476 5919,,,Zoe,O'Neil,2015-03-04,F,BS1 4ST\n" + f"EDUCATION,E1,,{UPN},,Ben,Jo,,M,\n"
    )
    path.write_bytes(text.replace("\n", line_end).encode())
    assert scan_file(path).plain_ascii_values
    assert engine(con, path, "agency_records") is not None
    from_engine = staged(con, "agency_records")
    assert exact(con, path, "agency_records").quarantine.height == 0
    assert_frame_equal(from_engine, staged(con, "agency_records"))
    assert from_engine["postcode"].to_list() == ["BS1 4ST", None]


@pytest.mark.parametrize(
    "name, text",
    [
        ("agency_records.csv", RECORDS_HEADER),  # header only: the exact reader refuses it
        ("agency_records.csv", "agency,nhs_number\nGP,9434765919\n"),  # a required column missing
        ("ssd_assessment_factors.csv", 'cinf_assessment_id,cinf_assessment_factors\nA1,"[""1B""]"\n'),
    ],
)
def test_refusals_and_tables_with_rules_of_their_own_are_the_exact_readers(tmp_path, con, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert engine(con, path, path.stem) is None


def test_cp1252_and_utf16_files_are_the_exact_readers(tmp_path, con):
    text = RECORDS_HEADER + "GP,G1,9434765919,,,Zoë,B,2015-03-04,F,\n"
    for encoding in ("cp1252", "utf-16"):
        path = tmp_path / "agency_records.csv"
        path.write_bytes(text.encode(encoding))
        assert engine(con, path, "agency_records") is None


def test_peak_rss_is_the_blocks_own():
    with PeakRss() as big:
        block = bytearray(96 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        del block
    with PeakRss() as small:
        pass
    assert big.mib >= 90
    assert small.mib < big.mib - 50


def test_running_out_of_memory_stops_the_night_instead_of_reading_the_file_again(tmp_path, con):
    # The exact reader would need far more memory than the engine: DuckDB's limit ([limits]
    # memory_limit_mib) is the operator's to raise (caseflags.failures names the key).
    from caseflags.failures import _duckdb_failure

    path = tmp_path / "agency_records.csv"
    rows = (f"EDUCATION,E{i},,,,Forename{i},Surname{i},2015-03-04,M,BS{i % 99} 1AA\n" for i in range(400_000))
    path.write_text(RECORDS_HEADER + "".join(rows))
    con.execute("SET memory_limit = '16MiB'")
    with pytest.raises(duckdb.OutOfMemoryException) as raised:
        engine(con, path, "agency_records")
    con.execute("RESET memory_limit")
    assert not con.sql("SELECT * FROM duckdb_tables() WHERE table_name = '_staged_agency_records'").fetchall()
    assert "[limits] memory_limit_mib" in _duckdb_failure(raised.value)
