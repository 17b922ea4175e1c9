"""Ingest: encodings, dates, flags, identifiers, quarantine with file and line, refusals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from caseflags.contracts.identifiers import is_valid_nhs_number, is_valid_upn, upn_check_letter
from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.delivery import discover_delivery
from caseflags.ingest.extracts import parse_extract

MEETINGS_HEADER = "meeting_id,person_id,meeting_type,scheduled_date,status,held_date,cancelled_date,minutes_shared_date,child_attended"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_utf8_bom_and_windows_1252_load_the_same_text(tmp_path):
    text = "member_id,person_id,relationship,parental_responsibility\nF1,P1,FATHER,Y\nM1,P1,MOTHER,N\n"
    person_text = "pers_person_id,pers_forename,pers_dob\nP1,Zoë,2015-03-04\n"
    plain = write(tmp_path / "a" / "family_members.csv", text) if (tmp_path / "a").mkdir() is None else None
    results = {}
    for name, encoding, prefix in [
        ("utf8", "utf-8", b""),
        ("bom", "utf-8", b"\xef\xbb\xbf"),
        ("cp1252", "cp1252", b""),
    ]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "ssd_person.csv").write_bytes(prefix + person_text.encode(encoding))
        results[name] = parse_extract(folder / "ssd_person.csv", "ssd_person")
    for parsed in results.values():
        assert parsed.quarantine.height == 0
        assert parsed.data["pers_forename"].to_list() == ["Zoë"]
        assert parsed.data["pers_dob"].to_list() == [date(2015, 3, 4)]
    assert parse_extract(plain, "family_members").data["relationship"].to_list() == ["FATHER", "MOTHER"]


def test_iso_and_uk_dates_parse_and_times_are_dropped(tmp_path):
    path = write(
        tmp_path / "meetings.csv",
        MEETINGS_HEADER + "\n"
        "M1,P1,CIN_MEETING,2026-01-05,HELD,2026-01-05 10:30,,05/01/2026,Y\n"
        "M2,P1,CIN_REVIEW,07/02/2026 09:15:00,SCHEDULED,,,,\n",
    )
    parsed = parse_extract(path, "meetings")
    assert parsed.quarantine.height == 0
    assert parsed.data["scheduled_date"].to_list() == [date(2026, 1, 5), date(2026, 2, 7)]
    assert parsed.data["held_date"].to_list() == [date(2026, 1, 5), None]
    assert parsed.data["minutes_shared_date"].to_list() == [date(2026, 1, 5), None]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Y", True),
        ("n", False),
        ("Yes", True),
        ("NO", False),
        ("1", True),
        ("0", False),
        ("True", True),
        ("false", False),
        ("", None),
    ],
)
def test_flag_variants(tmp_path, value, expected):
    path = write(
        tmp_path / "family_members.csv", f"person_id,member_id,relationship,lives_with_child\nP1,F1,FATHER,{value}\n"
    )
    parsed = parse_extract(path, "family_members")
    assert parsed.quarantine.height == 0
    assert parsed.data["lives_with_child"].to_list() == [expected]


def test_bad_date_blank_required_and_unknown_code_are_quarantined_with_their_line(tmp_path):
    path = write(
        tmp_path / "meetings.csv",
        MEETINGS_HEADER + "\n"
        "M1,P1,CIN_MEETING,2026-01-05,HELD,,,,Y\n"
        "M2,P1,CIN_MEETING,2026-02-30,HELD,,,,Y\n"  # line 3: impossible date
        "M3,,CIN_MEETING,2026-01-05,HELD,,,,Y\n"  # line 4: blank required person_id
        "M4,P2,COFFEE_MORNING,2026-01-05,HELD,,,,Y\n"  # line 5: unknown code
        "M5,P2,CIN_REVIEW,2026-01-05,HELD,,,,maybe\n",  # line 6: bad flag
    )
    parsed = parse_extract(path, "meetings")
    assert parsed.data["meeting_id"].to_list() == ["M1"]
    rows = parsed.quarantine.select("file", "line", "column_name").rows()
    assert rows == [
        ("meetings.csv", 3, "scheduled_date"),
        ("meetings.csv", 4, "person_id"),
        ("meetings.csv", 5, "meeting_type"),
        ("meetings.csv", 6, "child_attended"),
    ]
    reasons = dict(zip(parsed.quarantine["line"], parsed.quarantine["reason"]))
    assert "date" in reasons[3] and "blank" in reasons[4] and "unknown code" in reasons[5]
    assert (
        parsed.quarantine.filter(pl.col("line") == 5)["raw_line"].item() == "M4,P2,COFFEE_MORNING,2026-01-05,HELD,,,,Y"
    )


def test_line_numbers_stay_exact_with_quoted_newlines_blank_lines_and_ragged_rows(tmp_path):
    path = write(
        tmp_path / "plan_actions.csv",
        "action_id,plan_id,person_id,action_text,due_date\n"
        'A1,PL1,P1,"Attend\nschool daily",2026-01-10\n'  # lines 2-3
        "\n"  # line 4: blank, ignored
        "A2,PL1,P1,Weekly check-in,not-a-date\n"  # line 5
        "A3,PL1,P1,too,many,fields\n"  # line 6: ragged
        "A4,PL1,P1,Fine,2026-02-01\n\n\n",  # line 7, trailing blank lines ignored
    )
    parsed = parse_extract(path, "plan_actions")
    assert parsed.data["action_id"].to_list() == ["A1", "A4"]
    assert parsed.data["action_text"].to_list()[0] == "Attend\nschool daily"
    assert parsed.quarantine.select("line", "column_name").rows() == [(5, "due_date"), (6, None)]
    assert "fields" in parsed.quarantine.filter(pl.col("line") == 6)["reason"].item()


def test_excel_decimal_ids_spaces_and_leading_zeros(tmp_path):
    path = write(
        tmp_path / "gp_registrations.csv",
        "nhs_number,practice_code,registered_from\n943 476 5919,L81001,2020-01-01\n9434765919.0,007.0,2020-01-01\n",
    )
    parsed = parse_extract(path, "gp_registrations")
    assert parsed.data["nhs_number"].to_list() == ["9434765919", "9434765919"]
    assert parsed.data["practice_code"].to_list() == ["L81001", "007"]


def test_missing_required_column_refuses_the_file_by_name(tmp_path):
    path = write(tmp_path / "meetings.csv", "meeting_id,person_id,meeting_type,status\nM1,P1,CIN_MEETING,HELD\n")
    with pytest.raises(ExtractRefused) as refused:
        parse_extract(path, "meetings")
    assert "meetings.csv" in str(refused.value) and "scheduled_date" in str(refused.value)


def test_unknown_file_is_refused_and_others_are_found(tmp_path):
    write(tmp_path / "meetings.csv", MEETINGS_HEADER + "\n")
    write(tmp_path / "pets.csv", "name\nRex\n")
    write(tmp_path / "manifest.json", "{}")
    write(tmp_path / "notes.xml", "<notes><note>hello</note></notes>")
    delivery = discover_delivery(tmp_path)
    assert list(delivery.files) == ["meetings"]
    assert sorted((r.file, r.reason) for r in delivery.refused) == [
        ("notes.xml", "XML whose root is notes: not a CIN census or SEN2 return"),
        ("pets.csv", "not a table of the extract contract"),
    ]
    assert [(u.file, u.reason) for u in delivery.unused] == [
        ("manifest.json", "neither an extract (.csv, .parquet, .xlsx) nor a DfE return (.xml, .xml.gz, .zip): not used")
    ]


def test_parquet_and_xlsx_load_with_row_numbers(tmp_path):
    frame = pl.DataFrame(
        {
            "ehcp_id": ["E1", "E2"],
            "upn": ["A123", "B456"],
            "named_plan_start_date": [date(2024, 9, 1), None],
            "school_urn": [100001.0, 100002.0],
        }
    )
    frame.write_parquet(tmp_path / "ehcp_plans.parquet")
    parsed = parse_extract(tmp_path / "ehcp_plans.parquet", "ehcp_plans")
    assert parsed.data["school_urn"].to_list() == ["100001"]
    assert parsed.quarantine.select("line", "column_name").rows() == [(2, "named_plan_start_date")]

    xlsx = tmp_path / "xl" / "ehcp_plans.xlsx"
    xlsx.parent.mkdir()
    frame.write_excel(xlsx)
    parsed = parse_extract(xlsx, "ehcp_plans")
    assert parsed.data["named_plan_start_date"].to_list() == [date(2024, 9, 1)]
    assert parsed.data["school_urn"].to_list() == ["100001"]
    assert parsed.quarantine.select("line", "column_name").rows() == [(3, "named_plan_start_date")]


def test_assessment_factors_json_or_comma_list(tmp_path):
    path = write(
        tmp_path / "ssd_assessment_factors.csv",
        'cinf_assessment_id,cinf_assessment_factors_json\nA1,"[""4A"",""15A""]"\nA2,"4a, 15A"\nA3,"[not json"\n',
    )
    parsed = parse_extract(path, "ssd_assessment_factors")
    assert parsed.data["cinf_assessment_factors_json"].to_list() == [["4A", "15A"], ["4A", "15A"]]
    assert parsed.quarantine.select("line", "column_name").rows() == [(4, "cinf_assessment_factors_json")]


def test_agency_local_names_map_to_codes(tmp_path):
    path = write(tmp_path / "agency_records.csv", "agency,agency_record_id\nSirona,R1\nawp,R2\nGP,R3\nBakery,R4\n")
    parsed = parse_extract(path, "agency_records", {"Sirona": "COMMUNITY_HEALTH", "AWP": "MENTAL_HEALTH"})
    assert parsed.data["agency"].to_list() == ["COMMUNITY_HEALTH", "MENTAL_HEALTH", "GP"]
    assert parsed.quarantine.select("line", "reason").rows() == [(5, "unknown code")]


# --- identifiers -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["9434765919", "943 476 5919", "4010232137", "0101010001"])
def test_valid_nhs_numbers(value):
    assert is_valid_nhs_number(value)


@pytest.mark.parametrize("value", ["9434765918", "123456789", "12345678901", "abcdefghij", "", None, "1000000010"])
def test_invalid_nhs_numbers(value):
    # 1000000010: the check digit works out as 10, which no NHS number may have.
    assert not is_valid_nhs_number(value)


def test_upn_check_letter_known_values():
    # Worked from the DfE rule: weights 2..13 on characters 2-13, sum mod 23 indexes the letters.
    body = "938201212001"
    total = sum(int(c) * w for c, w in zip(body, range(2, 14)))
    assert upn_check_letter(body) == "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23]
    valid = upn_check_letter(body) + body
    assert is_valid_upn(valid)
    assert is_valid_upn(valid.lower())
    wrong_letter = ("A" if valid[0] != "A" else "B") + body
    assert not is_valid_upn(wrong_letter)
    assert not is_valid_upn(valid[:-1])
    assert not is_valid_upn("I" + body)  # I is never a check letter


def test_temporary_upn_ending_in_a_letter():
    body = "93820121200A"
    assert is_valid_upn(upn_check_letter(body) + body)


def test_invalid_identifiers_are_kept_on_the_row_and_reported(tmp_path):
    good_upn = upn_check_letter("938201212001") + "938201212001"
    path = write(
        tmp_path / "agency_records.csv",
        "agency,agency_record_id,nhs_number,upn\n"
        f"GP,G1,9434765919,\n"
        f"GP,G2,9434765918,\n"
        f"EDUCATION,S1,,{good_upn}\n"
        f"EDUCATION,S2,,X{good_upn[1:]}\n",
    )
    parsed = parse_extract(path, "agency_records")
    assert parsed.data.height == 4  # rows kept
    issues = parsed.identifier_issues.select("line", "column_name", "agency", "identifier_type").rows()
    assert sorted(issues) == [(3, "nhs_number", "GP", "NHS_NUMBER"), (5, "upn", "EDUCATION", "UPN")]


def test_a_row_with_too_few_fields_is_quarantined_not_padded(tmp_path):
    path = write(
        tmp_path / "family_members.csv",
        "person_id,member_id,relationship,parental_responsibility,lives_with_child\n"
        "P1,F1,FATHER,Y,N\n"
        "P1,M1,MOTHER,Y\n"  # line 3: a field short
        "P2,M2,MOTHER,,\n",  # empty trailing fields are fine
    )
    parsed = parse_extract(path, "family_members")
    assert parsed.data["member_id"].to_list() == ["F1", "M2"]
    assert parsed.quarantine.select("line", "reason").rows() == [(3, "expected 5 fields, found 4")]


def test_column_validators_agree_with_the_reference_functions():
    import random

    from caseflags.contracts.identifiers import UPN_CHECK_LETTERS, nhs_number_valid_expr, upn_valid_expr

    rng = random.Random(7)
    nhs = ["".join(rng.choice("0123456789") for _ in range(10)) for _ in range(3000)]
    nhs += ["9434765919", "943476591", "94347659190", "abcdefghij", "1000000010"]
    upns = []
    for _ in range(3000):
        body = "".join(rng.choice("0123456789") for _ in range(11)) + rng.choice(
            "0123456789" + UPN_CHECK_LETTERS + "IOS"
        )
        first = (
            upn_check_letter(body)
            if rng.random() < 0.5 and body[-1] not in "IOS"
            else rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        )
        upns.append(first + body)
    upns += ["", "A1", upns[0].lower()]
    got_nhs = pl.DataFrame({"v": nhs}).select(nhs_number_valid_expr(pl.col("v"))).to_series().to_list()
    got_upn = pl.DataFrame({"v": upns}).select(upn_valid_expr(pl.col("v"))).to_series().to_list()
    assert got_nhs == [is_valid_nhs_number(v) for v in nhs] and any(got_nhs) and not all(got_nhs)
    assert got_upn == [is_valid_upn(v) for v in upns] and any(got_upn) and not all(got_upn)
