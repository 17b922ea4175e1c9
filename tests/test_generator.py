"""The synthetic authority generator: determinism, contract conformance, planted truth, bad input.

The contract is checked with a small parser of our own over sql/schema.sql (independent of the
ingest, which is tested on its own), so the generator and the ingest cannot agree on a mistake.
"""

import csv
import filecmp
import json
import re
from datetime import date, datetime
from pathlib import Path

import nhs_number
import pytest

from caseflags.ingest.extracts import KEPT_WHEN_UNPARSEABLE
from caseflags.sample_data import _tables, generator
from caseflags.sample_data._identifiers import is_valid_nhs_number, is_valid_upn

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "sql" / "schema.sql"
SMALL = REPO / "sample_data" / "small"
AS_AT = date(2026, 11, 24)
DELIVERY_TABLES = list(generator.TABLE_COLUMNS)
RETURNS_ONLY_TABLES = list(_tables.RETURNS_ONLY_TABLES)  # filled by the returns alone
FLAG_WORDS = {"y", "n", "yes", "no", "1", "0", "true", "false"}


# -- a light reading of the typed contract ------------------------------------------------------


def read_schema() -> dict[str, list[tuple[str, str, bool]]]:
    """table -> [(column, type, not null)], ENUM types expanded to a frozenset of codes."""
    sql = re.sub(r"--[^\n]*", "", SCHEMA.read_text(encoding="utf-8"))
    enums = {
        name: frozenset(re.findall(r"'([^']*)'", body))
        for name, body in re.findall(r"CREATE TYPE (\w+) AS ENUM \((.*?)\);", sql, re.S)
    }
    tables = {}
    for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\);", sql, re.S):
        columns = []
        for line in body.split(","):
            parts = line.split()
            if not parts:
                continue
            column, sql_type = parts[0], parts[1]
            columns.append((column, enums.get(sql_type, sql_type), "NOT NULL" in line))
        tables[name] = columns
    return tables


def parse_date(value: str, uk_allowed: bool) -> bool:
    value = value.split(" ")[0]
    formats = ["%Y-%m-%d"] + (["%d/%m/%Y"] if uk_allowed else [])
    for fmt in formats:
        try:
            datetime.strptime(value, fmt)
            return len(value) == 10
        except ValueError:
            continue
    return False


def value_problem(value: str, sql_type, required: bool, strict: bool) -> str | None:
    """Why a raw CSV value breaks the contract, or None. strict = the clean variant's own format."""
    if value.strip() == "":
        return "blank required value" if required else None
    if isinstance(sql_type, frozenset):
        return None if value in sql_type else "unknown code"
    if sql_type == "DATE":
        return None if parse_date(value, uk_allowed=not strict) else "unparseable date"
    if sql_type == "BOOLEAN":
        ok = value in ("Y", "N") if strict else value.lower() in FLAG_WORDS
        return None if ok else "invalid flag"
    if sql_type == "INTEGER":
        return None if re.fullmatch(r"-?\d+", value) else "not an integer"
    if sql_type == "VARCHAR[]":
        try:
            codes = json.loads(value)
        except ValueError:
            return None if strict is False else "not a JSON array"
        return None if isinstance(codes, list) and all(isinstance(c, str) for c in codes) else "not a list"
    return None


def read_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    rows = list(csv.reader(text.splitlines()))
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


def contract_problems(folder: Path, strict: bool) -> set[tuple[str, int, str]]:
    problems = set()
    for table, columns in read_schema().items():
        if table in RETURNS_ONLY_TABLES:
            continue
        rows = read_rows(folder / f"{table}.csv")
        header = rows[0]
        assert header == [c for c, _, _ in columns], f"{table}: header differs from schema.sql"
        for line, row in enumerate(rows[1:], start=2):
            assert len(row) == len(header), f"{table}:{line} has {len(row)} fields"
            for (column, sql_type, required), value in zip(columns, row):
                if value_problem(value, sql_type, required, strict):
                    problems.add((table, line, column))
    return problems


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- generated deliveries (the internal `tiny` profile keeps this module fast) --------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_seed1")
    generator.generate("tiny", 1, out)
    return out


@pytest.fixture(scope="module")
def tiny_bad(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_bad")
    generator.generate("tiny", 1, out, variant="bad")
    return out


def test_same_seed_gives_identical_files(tiny, tmp_path):
    generator.generate("tiny", 1, tmp_path)
    names = sorted(str(p.relative_to(tiny)) for p in tiny.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert "ground_truth/truth.csv" in names
    match, mismatch, errors = filecmp.cmpfiles(tiny, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == []


def test_different_seed_gives_different_files(tiny, tmp_path):
    generator.generate("tiny", 2, tmp_path)
    for name in ("ssd_person.csv", "attendance_sessions.csv", "ground_truth/truth.csv", "meetings.csv"):
        assert (tiny / name).read_bytes() != (tmp_path / name).read_bytes(), name


def test_every_contract_table_is_written_with_its_header(tiny):
    schema = read_schema()
    assert sorted(schema) == sorted(DELIVERY_TABLES + RETURNS_ONLY_TABLES)
    for table, columns in schema.items():
        if table not in RETURNS_ONLY_TABLES:
            assert read_rows(tiny / f"{table}.csv")[0] == [c for c, _, _ in columns]


@pytest.mark.parametrize("folder", ["tiny", pytest.param("small", marks=pytest.mark.e2e)])  # small: the whole sample
def test_clean_variant_passes_the_contract(folder, request):
    path = request.getfixturevalue("tiny") if folder == "tiny" else SMALL
    assert contract_problems(path, strict=True) == set()


def test_bad_variant_rejects_exactly_the_listed_rows(tiny_bad):
    listed = {
        (r["table"], int(r["line"]), r["column"]) for r in read_csv(generator.ground_truth(tiny_bad) / "bad_rows.csv")
    }
    assert len(listed) >= 10
    assert contract_problems(tiny_bad, strict=False) == listed


def test_bad_variant_has_windows_1252_uk_dates_and_same_truth(tiny, tiny_bad):
    raw = (tiny_bad / "agency_records.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Zoë" in raw.decode("cp1252")
    contacts = read_rows(tiny_bad / "family_contacts.csv")
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", contacts[1][4])
    assert (generator.ground_truth(tiny) / "truth.csv").read_bytes() == (
        generator.ground_truth(tiny_bad) / "truth.csv"
    ).read_bytes()
    reasons = {r["reason"] for r in read_csv(generator.ground_truth(tiny_bad) / "bad_rows.csv")}
    assert reasons == {"blank required value", "unparseable date", "unknown code", "not an integer", "invalid flag"}


def test_identifiers_are_valid_except_the_planted_invalid_ones(tiny):
    invalid = {
        row["entity_id"]
        for row in read_csv(generator.ground_truth(tiny) / "truth.csv")
        if row["check_id"] == "INVALID_IDENTIFIER"
    }
    assert invalid, "some invalid identifiers are planted"
    for table, columns in (
        ("ssd_person", ("pers_upn", "pers_single_unique_id")),
        ("agency_records", ("nhs_number", "upn")),
        ("gp_registrations", ("nhs_number",)),
        ("ehcp_plans", ("upn",)),
    ):
        for line, row in enumerate(read_csv(tiny / f"{table}.csv"), start=2):
            row_valid = True
            for column in columns:
                value = row[column].replace(" ", "")
                if value:
                    is_nhs = "nhs" in column or column == "pers_single_unique_id"
                    row_valid &= nhs_number.is_valid(value) if is_nhs else is_valid_upn(value)
            assert row_valid == (f"{table}:{line}" not in invalid), (table, line, row)


def test_upn_check_letter_follows_the_dfe_algorithm():
    # Worked by hand: weights 2..13 over the 12 digits, remainder mod 23 indexes A-Z without I, O, S.
    digits = "803200119001"
    total = sum(int(d) * w for d, w in zip(digits, range(2, 14)))
    assert total == 158 and total % 23 == 20 and "ABCDEFGHJKLMNPQRTUVWXYZ"[20] == "X"
    assert is_valid_upn("X803200119001") and not is_valid_upn("A803200119001")
    assert is_valid_nhs_number("9434765919") and not is_valid_nhs_number("9434765918")


def test_every_agency_record_has_a_true_link(tiny):
    records = read_csv(tiny / "agency_records.csv")
    links = read_csv(generator.ground_truth(tiny) / "truth_links.csv")
    assert [(r["agency"], r["agency_record_id"]) for r in records] == [
        (l["agency"], l["agency_record_id"]) for l in links
    ]
    people = {r["pers_person_id"] for r in read_csv(tiny / "ssd_person.csv")}
    linked = {l["person_id"] for l in links if l["person_id"]}
    assert linked <= people
    assert sum(1 for l in links if not l["person_id"]) > len(links) / 2, (
        "most indexed children are not known to social care"
    )


@pytest.mark.parametrize("folder", ["tiny", "small"])
def test_every_true_link_of_an_la_child_is_derivable(folder, request):
    """The truth assumes these links, so the data must support them: a record sharing no valid
    identifier with social care has at most one name slip; a planted DOB record only that, and a key."""
    path = request.getfixturevalue("tiny") if folder == "tiny" else SMALL
    people = {r["pers_person_id"]: r for r in read_csv(path / "ssd_person.csv")}
    postcode = {
        a["addr_person_id"]: a["addr_address_postcode"]
        for a in read_csv(path / "ssd_address.csv")
        if not a["addr_address_end_date"]
    }
    keys = {pid: {v for v in (r["pers_single_unique_id"], r["pers_upn"]) if v} for pid, r in people.items()}
    for row in read_csv(path / "ssd_linked_identifiers.csv"):
        keys[row["link_person_id"]].add(row["link_identifier_value"])
    keys = {pid: {v for v in values if is_valid_nhs_number(v) or is_valid_upn(v)} for pid, values in keys.items()}
    planted_dob = {
        r["person_id"] for r in read_csv(generator.ground_truth(path) / "planted.csv") if r["scenario"] == "dob_swapped"
    }
    planted_dob |= {
        r["person_id"]
        for r in read_csv(generator.ground_truth(path) / "near_misses.csv")
        if r["description"].startswith("dob_blank:")
    }
    links = read_csv(generator.ground_truth(path) / "truth_links.csv")
    unkeyed = with_planted_dob = 0
    for record, link in zip(read_csv(path / "agency_records.csv"), links, strict=True):
        pid = link["person_id"]
        if not pid:
            continue
        child = people[pid]
        slips = [
            field
            for field, own in (
                ("forename", child["pers_forename"]),
                ("surname", child["pers_surname"]),
                ("dob", child["pers_dob"]),
                ("sex", child["pers_sex"]),
                ("postcode", postcode[pid]),
            )
            if record[field] != own
        ]
        shared = {record["nhs_number"].replace(" ", ""), record["upn"]} & keys[pid] or record["la_person_id"] == pid
        if pid in planted_dob and "dob" in slips:
            assert slips == ["dob"] and shared, (record["agency_record_id"], slips)
            with_planted_dob += 1
        elif not shared:
            assert len(slips) <= 1 and not {"dob", "postcode"} & set(slips), (record["agency_record_id"], slips)
            unkeyed += 1
    assert unkeyed > 0 and with_planted_dob > 0  # both arms are exercised


# -- the committed small sample ----------------------------------------------------------------------


def test_small_sample_is_the_committed_profile():
    manifest = json.loads((SMALL / "manifest.json").read_text())
    assert (manifest["profile"], manifest["seed"], manifest["as_at"], manifest["variant"]) == (
        "small",
        1,
        "2026-11-24",
        "clean",
    )
    size = sum(p.stat().st_size for p in SMALL.rglob("*") if p.is_file())
    assert size < 15 * 1024 * 1024
    for name, count in manifest["row_counts"].items():
        assert len(read_rows(SMALL / name)) - 1 == count, name


def test_small_plants_every_check_with_an_exception_and_a_near_miss():
    truth, planted, near = (
        read_csv(generator.ground_truth(SMALL) / f) for f in ("truth.csv", "planted.csv", "near_misses.csv")
    )
    for check in generator.CHECK_IDS:
        assert any(r["check_id"] == check for r in truth), f"{check}: no exception in truth"
        assert any(r["check_id"] == check for r in planted), f"{check}: nothing planted"
        assert any(r["check_id"] == check for r in near), f"{check}: no near-miss"


def test_small_truth_contains_every_plant_and_no_near_miss():
    truth = {(r["check_id"], r["person_id"]) for r in read_csv(generator.ground_truth(SMALL) / "truth.csv")}
    for plant in read_csv(generator.ground_truth(SMALL) / "planted.csv"):
        if plant["check_id"] != "INVALID_IDENTIFIER":  # keyed by file line, checked above
            assert (plant["check_id"], plant["person_id"]) in truth, plant
    for near_miss in read_csv(generator.ground_truth(SMALL) / "near_misses.csv"):
        if near_miss["check_id"] != "INVALID_IDENTIFIER":
            assert (near_miss["check_id"], near_miss["person_id"]) not in truth, near_miss


def test_small_attendance_has_a_realistic_spread():
    # Most pupils attend at least 90 %, with a tail of persistent and severe absence.
    possible, missed = {}, {}
    absence = {"I", "M", "C", "C1", "C2", "E", "J1", "R", "S", "T", "G", "N", "O", "U"}
    not_possible = {"Q", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "X", "Z", "#"}
    with open(SMALL / "attendance_sessions.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["session_date"] >= "2026-09-01" and row["attendance_code"] not in not_possible:
                possible[row["upn"]] = possible.get(row["upn"], 0) + 1
                missed[row["upn"]] = missed.get(row["upn"], 0) + (row["attendance_code"] in absence)
    rates = [missed[u] / possible[u] for u in possible if possible[u] >= 20]
    assert len(rates) > 200
    above_90 = sum(r < 0.10 for r in rates) / len(rates)
    assert 0.5 < above_90 < 0.9
    assert any(r >= 0.5 for r in rates)


def stage(folder: Path, tmp_path: Path):
    """The project's own ingest over a generated delivery (stage only, nothing published)."""
    from caseflags import runbook as pipeline
    from caseflags.settings import load_config
    from caseflags.store.database import connect

    con = connect(tmp_path / "store.duckdb")
    state = pipeline.new_run(con, AS_AT, folder, tmp_path / "out")
    pipeline.ingest(con, state, load_config())
    return state, state.staged


@pytest.mark.e2e  # the whole committed sample through ingest
def test_ingest_loads_the_committed_sample_with_nothing_quarantined_or_refused(tmp_path):
    state, staged = stage(SMALL, tmp_path)
    assert staged.quarantine == []
    assert {t: o.status for t, o in state.extracts.items() if o.status != "LOADED"} == {
        table: "NOT_DELIVERED" for table in RETURNS_ONLY_TABLES
    }  # only the returns fill these
    assert [r["file"] for r in state.refused_files] == []


def test_ingest_quarantines_exactly_the_bad_rows_of_the_bad_variant(tiny_bad, tmp_path):
    state, staged = stage(tiny_bad, tmp_path)
    listed = {
        (r["table"], int(r["line"]), r["column"]) for r in read_csv(generator.ground_truth(tiny_bad) / "bad_rows.csv")
    }
    quarantined = {
        (row["table_name"], row["line"], row["column_name"])
        for frame in staged.quarantine
        for row in frame.iter_rows(named=True)
    }
    # A partner record's unparseable DOB keeps its row (DOB missing) and is a data-quality warning.
    kept = {bad for bad in listed if (bad[0], bad[2]) in KEPT_WHEN_UNPARSEABLE}
    warned = {
        (row["table_name"], row["line"], row["column_name"])
        for frame in staged.warnings
        for row in frame.iter_rows(named=True)
    }
    assert quarantined == listed - kept
    assert warned == kept
    assert state.extracts["agency_records"].status == "LOADED"  # the Windows-1252 file
    assert state.extracts["family_contacts"].status == "LOADED"  # the UK dates


def test_twins_and_siblings_known_and_unknown_to_social_care_are_in_the_truth(tiny):
    """Issue 26: twins social care knows both of (same DOB, surname, postcode; other forename),
    and twins and siblings it does not know, each record of one listed in truth_relatives."""
    people = {r["pers_person_id"]: r for r in read_csv(tiny / "ssd_person.csv")}
    addresses = {}
    for r in read_csv(tiny / "ssd_address.csv"):
        addresses.setdefault(r["addr_person_id"], set()).add(r["addr_address_postcode"])
    records = {(r["agency"], r["agency_record_id"]): r for r in read_csv(tiny / "agency_records.csv")}
    truth = {
        (r["agency"], r["agency_record_id"]): r["person_id"]
        for r in read_csv(generator.ground_truth(tiny) / "truth_links.csv")
    }
    relatives = read_csv(generator.ground_truth(tiny) / "truth_relatives.csv")
    known = [r for r in relatives if r["known_to_social_care"] == "Y"]
    assert known and all(r["relationship"] == "TWIN" for r in known)
    for r in known:
        own = truth[(r["agency"], r["agency_record_id"])]
        twin = r["person_id"]
        assert own and own != twin  # a record of one LA child, resembling the other
        a, b = people[own], people[twin]
        assert (a["pers_dob"], a["pers_surname"]) == (b["pers_dob"], b["pers_surname"])
        assert a["pers_forename"] != b["pers_forename"]
        assert addresses.get(own, set()) & addresses.get(twin, set())
    unknown = [r for r in relatives if r["known_to_social_care"] == "N"]
    assert {r["relationship"] for r in unknown} >= {"SIBLING"}
    for r in unknown:
        assert truth[(r["agency"], r["agency_record_id"])] == ""  # nobody social care knows
        assert records[(r["agency"], r["agency_record_id"])]["surname"] == people[r["person_id"]]["pers_surname"]


def test_generator_docs_list_every_planted_scenario():
    # docs/GENERATOR.md's scenario table is generated from sample_data/truth/*.py.
    from caseflags.sample_data.truth.__main__ import COMMAND, rendered

    path, text = rendered()
    assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale; regenerate with `{COMMAND}`"
