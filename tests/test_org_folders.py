"""Agency and organisation folders are unique by construction: two codes that sanitise alike
(`L81010.` and `L81010`, `109019/` and `109019`, `l81010` and `L81010`) never share a folder, so
one practice's rows never land in another's files."""

from __future__ import annotations

import csv
import itertools
import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from caseflags.outputs import organisations
from caseflags.outputs.agencies import agency_folder_name
from caseflags.outputs.files import safe_folder_name

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Plain characters, characters a sanitiser replaces or strips, and a case pair.
ALPHABET = "A1a._-/ é\\"


def _check_unique(codes):
    names = [safe_folder_name(code) for code in codes]
    for name in names:
        assert SAFE.fullmatch(name) and len(name) <= 64, name
    assert len(set(names)) == len(set(codes))
    # also unique on a case-insensitive file system (folders are copied to office shares)
    assert len({name.lower() for name in names}) == len(set(codes))


def test_every_pair_of_codes_that_sanitise_alike_gets_its_own_folder():
    """Every code of up to three characters over an alphabet of plain, replaced and stripped
    characters: each pair that an old-style sanitiser mapped to one name now differs."""
    codes = ["".join(chars) for n in range(4) for chars in itertools.product(ALPHABET, repeat=n)]
    _check_unique(codes)
    pairs = [
        ("L81010.", "L81010"),
        ("109019/", "109019"),
        ("l81010", "L81010"),
        ("GP X", "GP_X"),
        ("_L81010", "L81010"),
        ("CON", "CON-" + "0" * 12),
    ]
    for a, b in pairs:
        assert safe_folder_name(a) != safe_folder_name(b), (a, b)
    assert safe_folder_name("L81010") == "L81010" and safe_folder_name("109019") == "109019"
    assert agency_folder_name("MENTAL_HEALTH") == "MENTAL_HEALTH"


def test_a_plain_code_shaped_like_a_hashed_name_cannot_take_its_folder():
    hashed = safe_folder_name("L81010.")
    assert hashed.startswith("L81010-")
    assert safe_folder_name(hashed.upper()) != hashed.upper()
    assert safe_folder_name(hashed) != hashed


def _alike(code: str) -> st.SearchStrategy[str]:
    """Codes a sanitiser would confuse with `code`: punctuation added, replaced, or case changed."""
    return st.one_of(
        st.sampled_from([".", "/", "_", " ", "-", "\\", ".."]).map(lambda s: code + s),
        st.sampled_from([".", "/", "_", " ", "-"]).map(lambda s: s + code),
        st.just(code.lower()),
        st.just(code.swapcase()),
        st.sampled_from(["/", " ", ".", ":"]).map(lambda s: code.replace("_", s)),
    )


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=12).flatmap(lambda code: st.tuples(st.just(code), _alike(code))))
def test_codes_that_sanitise_alike_never_share_a_folder(pair):
    a, b = pair
    if a != b:
        _check_unique([a, b])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=70), min_size=2, max_size=6, unique=True))
def test_any_distinct_codes_get_distinct_safe_folders(codes):
    _check_unique(codes)


def test_two_practices_that_sanitise_alike_keep_their_own_rows(tmp_path, monkeypatch):
    """`L81010.` and `L81010` each get a folder holding exactly their own rows."""

    def row(exception_id, practice):
        return {
            "exception_id": exception_id,
            "check_id": "GP_NOT_KNOWN",
            "agency": "GP",
            "organisation": practice,
            "practice_code": practice,
            "detail": f"row of {practice}",
        }

    grouped = {
        ("GP", "L81010"): [row("E1", "L81010")],
        ("GP", "L81010."): [row("E2", "L81010.")],
        ("EDUCATION", "109019"): [row("E3", "109019")],
        ("EDUCATION", "109019/"): [row("E4", "109019/")],
    }
    monkeypatch.setattr(organisations, "record_agency_rows", lambda con, run_id, as_at: None)
    monkeypatch.setattr(organisations, "organisation_rows", lambda con, run_id: grouped)
    monkeypatch.setattr(organisations, "central_queue_rows", lambda con, run_id: {})  # (no store here)
    written = organisations.write_organisation_outputs(None, "run-1", date(2026, 11, 24), tmp_path)
    assert len(set(written.values())) == 4
    for (agency, practice), rows in grouped.items():
        with open(written[(agency, practice)] / "exceptions.csv", encoding="utf-8") as handle:
            ids = [r["exception_id"] for r in csv.DictReader(handle)]
        assert ids == [rows[0]["exception_id"]], (practice, ids)
    assert written[("GP", "L81010")].name == "L81010" and written[("EDUCATION", "109019")].name == "109019"
