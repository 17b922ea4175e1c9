"""Damaged deliveries: every file is loaded, quarantined row by row, or refused by name with a
clear reason; nothing raises anything else, and every file's ledger balances."""

from __future__ import annotations

import gzip
import math
import tracemalloc
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from caseflags.ingest.extracts import ExtractRefused, parse_extract
from caseflags.ingest.scan import KIND_REASONS, IngestLimits
from caseflags.settings import ConfigError, load_config

MEETINGS_HEADER = "meeting_id,person_id,meeting_type,scheduled_date,status,held_date,cancelled_date,minutes_shared_date,child_attended"
PERSON_HEADER = (
    "pers_person_id,pers_upn,pers_single_unique_id,pers_forename,pers_surname,pers_dob,pers_sex,pers_send_flag"
)


def meeting(i: int, **changes) -> str:
    values = {
        "meeting_id": f"M{i}",
        "person_id": "P1",
        "meeting_type": "CIN_MEETING",
        "scheduled_date": "2026-01-05",
        "status": "HELD",
        "held_date": "",
        "cancelled_date": "",
        "minutes_shared_date": "",
        "child_attended": "Y",
    }
    values.update(changes)
    return ",".join(values.values())


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def balanced(parsed) -> bool:
    return all(entry["balanced"] for entry in parsed.ledger())


def refusal(path: Path, table: str) -> str:
    with pytest.raises(ExtractRefused) as refused:
        parse_extract(path, table)
    assert refused.value.file == path.name
    return refused.value.reason


# --- the crashes of the issue ---------------------------------------------------------------


def test_parquet_nan_is_blank_and_infinity_quarantines_only_its_row(tmp_path):
    frame = pl.DataFrame(
        {
            "upn": ["A1", "A2", "A3", "A4"],
            "school_urn": [100001.0, math.nan, math.inf, 12.5],
            "period_start": [date(2026, 9, 1)] * 4,
            "period_end": [date(2026, 10, 1)] * 4,
            "possible_sessions": [40.0, 40.0, 40.0, -math.inf],
            "present_sessions": [38, 38, 38, 38],
        }
    )
    frame.write_parquet(tmp_path / "attendance_summaries.parquet")
    parsed = parse_extract(tmp_path / "attendance_summaries.parquet", "attendance_summaries")
    assert parsed.data["upn"].to_list() == ["A1", "A2"]
    assert parsed.data["school_urn"].to_list() == ["100001", None]
    assert parsed.data["possible_sessions"].to_list() == [40, 40]
    assert parsed.quarantine.select("line", "column_name", "reason").rows() == [
        (3, "school_urn", "not a finite number (infinity)"),
        (4, "possible_sessions", "not a finite number (infinity)"),
    ]
    assert parsed.quarantine["raw_line"].to_list()[0].startswith("A3,")
    assert balanced(parsed) and parsed.ledger()[0]["read"] == 4


def test_corrupt_parquet_is_refused_by_name(tmp_path):
    pl.DataFrame({"ehcp_id": ["E1"], "upn": ["A1"], "named_plan_start_date": [date(2024, 9, 1)]}).write_parquet(
        tmp_path / "ehcp_plans.parquet"
    )
    data = (tmp_path / "ehcp_plans.parquet").read_bytes()
    write(tmp_path / "ehcp_plans.parquet", data[:8] + b"\x00" * 40 + data[48:])
    assert refusal(tmp_path / "ehcp_plans.parquet", "ehcp_plans").startswith("unreadable Parquet file")
    write(tmp_path / "ehcp_plans.parquet", data[: len(data) // 2])
    assert "Parquet" in refusal(tmp_path / "ehcp_plans.parquet", "ehcp_plans")


def test_parquet_id_stored_as_a_struct_is_refused_naming_the_column(tmp_path):
    pl.DataFrame(
        {
            "ehcp_id": [{"a": "E1"}, {"a": "E2"}],
            "upn": ["A1", "A2"],
            "named_plan_start_date": [date(2024, 9, 1)] * 2,
        }
    ).write_parquet(tmp_path / "ehcp_plans.parquet")
    reason = refusal(tmp_path / "ehcp_plans.parquet", "ehcp_plans")
    assert "ehcp_id" in reason and "Struct" in reason


@pytest.mark.parametrize("force_exact", [False, True])
def test_a_1_mb_field_is_quarantined_with_its_line_and_the_rest_loads(tmp_path, force_exact):
    big = "x" * 1_000_000
    text = MEETINGS_HEADER + "\n" + meeting(1) + "\n" + meeting(2, minutes_shared_date=big) + "\n" + meeting(3) + "\n"
    if force_exact:
        text = text.replace("M3", "M3\u00e9")  # made Windows-1252 below: the line-by-line path
    path = write(tmp_path / "meetings.csv", text.encode("cp1252") if force_exact else text)
    parsed = parse_extract(path, "meetings")
    assert parsed.data.height == 2
    [row] = parsed.quarantine.select("line", "reason", "raw_line", "raw_length").rows()
    assert row[0] == 3 and "max_field_size" in row[1]
    assert len(row[2]) == 1000 and row[3] == len(meeting(2, minutes_shared_date=big))
    assert balanced(parsed)


def test_a_record_longer_than_the_limit_is_never_held_whole(tmp_path):
    """A 30 MB single-field line is skipped in blocks: Python's peak stays near the limits."""
    path = tmp_path / "meetings.csv"
    with path.open("wb") as handle:
        handle.write((MEETINGS_HEADER + "\n" + meeting(1) + "\n").encode())
        handle.write(b"M2,P1,CIN_MEETING,2026-01-05,HELD,,,")
        for _ in range(30):
            handle.write(b"y" * 1_000_000)
        handle.write(b",Y\n" + (meeting(3) + "\n").encode())
    tracemalloc.start()
    try:
        parsed = parse_extract(path, "meetings")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed.data["meeting_id"].to_list() == ["M1", "M3"]
    [row] = parsed.quarantine.select("line", "reason", "raw_length").rows()
    assert row[0] == 3 and "max_record_size" in row[1] and row[2] == 30_000_000 + 36 + 2
    assert peak < 12_000_000  # the file is 30 MB; the limits are 1 MiB per record
    assert balanced(parsed)


def test_a_file_cut_inside_a_quoted_field_loads_no_cut_text(tmp_path):
    path = write(tmp_path / "meetings.csv", MEETINGS_HEADER + "\n" + meeting(1) + "\n" + meeting(2)[:-1] + '"Y')
    parsed = parse_extract(path, "meetings")
    assert parsed.data["meeting_id"].to_list() == ["M1"]
    assert parsed.quarantine.select("line", "reason").rows() == [
        (3, "unterminated quoted field: it runs from this line to the end of the file (cut short?)")
    ]
    assert balanced(parsed)


def test_a_file_cut_without_a_quote_quarantines_its_last_record(tmp_path):
    path = write(tmp_path / "meetings.csv", MEETINGS_HEADER + "\n" + meeting(1) + "\n" + meeting(2)[:-1])
    parsed = parse_extract(path, "meetings")
    assert parsed.data["meeting_id"].to_list() == ["M1"]
    assert parsed.quarantine.select("line", "reason").rows() == [
        (3, "last record has no line end (the file may be cut short)")
    ]


def test_damaged_quoting_nul_bytes_and_stray_line_breaks_quarantine_rows(tmp_path):
    path = write(
        tmp_path / "meetings.csv",
        MEETINGS_HEADER
        + "\n"
        + meeting(1)
        + "\n"
        + meeting(2, person_id='"P1"x')
        + "\n"  # line 3: text after a closing quote
        + meeting(3, person_id="P\x001")
        + "\n"  # line 4: NUL
        + meeting(4, meeting_id='"M4\nM5"')
        + "\n"  # lines 5-6: a line break inside an id
        + meeting(7)
        + "\n",
    )
    parsed = parse_extract(path, "meetings")
    assert parsed.data["meeting_id"].to_list() == ["M1", "M7"]
    reasons = dict(parsed.quarantine.select("line", "reason").rows())
    assert reasons == {
        3: "damaged quoting: text after a closing quote",
        4: "NUL byte in the record",
        5: "control character (line break, tab, NUL) in an identifier",
    }
    assert balanced(parsed)


# --- duplicate keys --------------------------------------------------------------------------


def test_duplicate_keys_identical_kept_once_differing_kept_out_rest_loaded(tmp_path):
    path = write(
        tmp_path / "meetings.csv",
        MEETINGS_HEADER
        + "\n"
        + meeting(1)
        + "\n"
        + meeting(2)
        + "\n"
        + meeting(2)
        + "\n"  # line 4: identical to line 3
        + meeting(3)
        + "\n"
        + meeting(3, status="CANCELLED")
        + "\n"  # line 6: same key as line 5, different contents
        + meeting(4)
        + "\n",
    )
    parsed = parse_extract(path, "meetings")
    assert parsed.data["meeting_id"].to_list() == ["M1", "M2", "M4"]
    assert parsed.quarantine.select("line", "reason").rows() == [
        (4, "duplicate key (meeting_id): identical to line 3 of meetings.csv, loaded once"),
        (5, "duplicate key (meeting_id): 2 rows with this key differ, none loaded (first at line 5 of meetings.csv)"),
        (6, "duplicate key (meeting_id): 2 rows with this key differ, none loaded (first at line 5 of meetings.csv)"),
    ]
    assert "M3" not in "".join(parsed.quarantine["reason"])  # the key's value is never in a reason
    assert parsed.ledger() == [
        {"file": "meetings.csv", "table": "meetings", "read": 6, "loaded": 3, "quarantined": 3, "balanced": True}
    ]


def test_invitations_without_a_named_professional_are_not_duplicates(tmp_path):
    path = write(
        tmp_path / "meeting_invitations.csv",
        "meeting_id,invitee_role,professional_id\nM1,OTHER,\nM1,OTHER,\nM1,GP,PR1\nM1,GP,PR1\n",
    )
    parsed = parse_extract(path, "meeting_invitations")
    assert parsed.data.height == 3 and parsed.quarantine["line"].to_list() == [5]


# --- clear reasons for files that are not extracts --------------------------------------------


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("meetings.csv", b"", "empty file (0 bytes)"),
        ("meetings.csv", b"\n  \r\n\n", "blank file: no header row"),
        ("meetings.csv", (MEETINGS_HEADER + "\n").encode(), "header row only: no records"),
        ("meetings.csv", (MEETINGS_HEADER + "\n\n").encode(), "header row only: no records"),
        # UTF-16 with its byte-order mark (SSMS "Unicode") is read: tests/test_ssd_exports.py.
        ("meetings.csv", (MEETINGS_HEADER + "\n" + meeting(1) + "\n").encode("utf-16-be"), KIND_REASONS["utf16"]),
        (
            "meetings.csv",
            gzip.compress((MEETINGS_HEADER + "\n" + meeting(1) + "\n").encode()),
            "compressed file (gzip): deliver the file uncompressed",
        ),
        ("meetings.csv", b"PK\x03\x04" + b"\x00" * 60, "a ZIP archive or XLSX workbook, not CSV text"),
        (
            "meetings.csv",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 60,
            "an old Excel .xls (or other OLE2) document: save it as .xlsx or CSV",
        ),
        ("meetings.csv", b"%PDF-1.7\n" + bytes(range(256)), "a PDF document, not an extract"),
        ("meetings.csv", bytes(range(256)) * 4, "not text: a binary file of another kind"),
        ("meetings.parquet", (MEETINGS_HEADER + "\n").encode(), "text, not a PARQUET file"),
        ("meetings.xlsx", (MEETINGS_HEADER + "\n").encode(), "text, not a XLSX file"),
        ("meetings.xlsx", b"PK\x03\x04" + b"\x00" * 60, "unreadable workbook"),
    ],
)
def test_files_of_another_kind_are_refused_with_a_clear_reason(tmp_path, name, data, reason):
    assert refusal(write(tmp_path / name, data), "meetings").startswith(reason)


def test_utf8_with_and_without_bom_and_windows_1252_load_alike(tmp_path):
    text = PERSON_HEADER + "\nP1,,,Zoë,Brontë,2015-03-04,F,Y\n"
    for name, data in [("a", text.encode()), ("b", b"\xef\xbb\xbf" + text.encode()), ("c", text.encode("cp1252"))]:
        (tmp_path / name).mkdir()
        parsed = parse_extract(write(tmp_path / name / "ssd_person.csv", data), "ssd_person")
        assert parsed.data["pers_forename"].to_list() == ["Zoë"] and parsed.quarantine.height == 0


def test_a_damaged_byte_in_a_utf8_file_quarantines_its_line_not_the_whole_file(tmp_path):
    text = PERSON_HEADER + "\nP1,,,Zoë,A,2015-03-04,F,Y\nP2,,,Chloë,B,2015-03-04,F,Y\nP3,,,Noë,C,2015-03-04,F,Y\n"
    data = text.encode().replace("Chloë".encode(), b"Chlo\xc3")
    parsed = parse_extract(write(tmp_path / "ssd_person.csv", data), "ssd_person")
    assert parsed.data["pers_forename"].to_list() == ["Zoë", "Noë"]
    assert parsed.quarantine.select("line", "reason").rows() == [(3, "invalid UTF-8 bytes in a UTF-8 file")]


def test_a_header_with_control_characters_is_refused(tmp_path):
    path = write(
        tmp_path / "meetings.csv", MEETINGS_HEADER.replace("held_date", "held\x00date") + "\n" + meeting(1) + "\n"
    )
    assert refusal(path, "meetings") == "damaged header row (control characters in a column name)"


def test_limits_come_from_the_configuration_and_are_validated(tmp_path):
    config = load_config()
    limits = IngestLimits.from_config(config.ingest)
    assert (limits.max_field_size, limits.max_record_size, limits.raw_line_prefix) == (262144, 1048576, 1000)
    bad = write(tmp_path / "bad.toml", "[ingest]\nmax_field_size = 2000000\n")
    with pytest.raises(ConfigError, match="max_field_size .* must not exceed ingest.max_record_size"):
        load_config(bad)
    with pytest.raises(ConfigError, match="raw_line_prefix must be between 1 and"):
        load_config(write(tmp_path / "zero.toml", "[ingest]\nraw_line_prefix = 0\n"))
    small = IngestLimits(max_field_size=25, max_record_size=200, raw_line_prefix=5)
    path = write(
        tmp_path / "meetings.csv",
        MEETINGS_HEADER + "\n" + meeting(1) + "\n" + meeting(2, held_date="2026-01-05 and a good deal more") + "\n",
    )
    parsed = parse_extract(path, "meetings", limits=small)
    assert parsed.quarantine.select("line", "raw_line", "raw_length").rows() == [
        (3, "M2,P1", len(meeting(2, held_date="2026-01-05 and a good deal more")))
    ]


def test_a_short_row_ending_in_a_comma_is_not_taken_for_an_empty_last_field(tmp_path):
    """Found by the mutation corpus: `P1,M1,SIBLING,` is 4 fields of 5, not a blank last one."""
    path = write(
        tmp_path / "family_members.csv",
        "person_id,member_id,relationship,parental_responsibility,lives_with_child\n"
        "P1,F1,FATHER,Y,N\nP1,S1,SIBLING,\nP1,M1,MOTHER,,\n",
    )
    parsed = parse_extract(path, "family_members")
    assert parsed.data["member_id"].to_list() == ["F1", "M1"]
    assert parsed.quarantine.select("line", "reason").rows() == [(3, "expected 5 fields, found 4")]


def test_a_key_clash_between_two_sources_of_one_table_names_both_files(tmp_path):
    """A table delivered by a CSV and a national return is checked as one: each source's ledger
    balances and each clashing row names its own file."""
    from caseflags.ingest.extracts import combine

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = parse_extract(
        write(tmp_path / "a" / "meetings.csv", MEETINGS_HEADER + "\n" + meeting(1) + "\n" + meeting(2) + "\n"),
        "meetings",
    )
    second = parse_extract(
        write(
            tmp_path / "b" / "meetings.xlsx.csv",
            MEETINGS_HEADER + "\n" + meeting(2, status="CANCELLED") + "\n" + meeting(3) + "\n",
        ),
        "meetings",
    )
    parsed = combine([first, second])
    assert sorted(parsed.rows()["meeting_id"].to_list()) == ["M1", "M3"]
    assert parsed.quarantine.select("file", "line").rows() == [("meetings.csv", 3), ("meetings.xlsx.csv", 2)]
    assert [(e["file"], e["read"], e["loaded"], e["quarantined"], e["balanced"]) for e in parsed.ledger()] == [
        ("meetings.csv", 2, 1, 1, True),
        ("meetings.xlsx.csv", 2, 1, 1, True),
    ]
