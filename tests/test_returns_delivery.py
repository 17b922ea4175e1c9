"""Returns as they come in a delivery: gzip and zip, the same content twice, other DfE
collections named, truncated files, and a table delivered by a CSV and a return."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import polars as pl
from returns_builder import cin_child, cin_return, sen2_return, write

from caseflags.ingest.returns.sources import find_returns, read_returns

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "returns"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def test_xml_gz_and_a_gzip_named_xml_are_read(tmp_path):
    (tmp_path / "cin_2025.xml.gz").write_bytes(gzip.compress(cin_return(2025).encode()))
    (tmp_path / "sen2.xml").write_bytes(gzip.compress(sen2_return(2025).encode()))  # compressed, misnamed
    found = find_returns(_files(tmp_path))
    assert [(s.name, s.collection, s.member.compression) for s in found.sources] == [
        ("cin_2025.xml.gz", "CIN", "gzip"),
        ("sen2.xml", "SEN2", "gzip"),
    ]
    assert found.unused == []
    read = read_returns(found)
    assert read.refused == []
    assert read.extracts["cin_2025.xml.gz"].tables["ssd_person"].height == 1
    notes = read.warnings().filter(pl.col("file") == "sen2.xml")["reason"].to_list()
    assert notes == ["sen2.xml is gzip-compressed though named .xml: read decompressed"]


def test_a_zip_with_several_returns_reads_each_and_names_the_rest(tmp_path):
    with zipfile.ZipFile(tmp_path / "returns.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2024/cin.xml", cin_return(2024))
        archive.writestr("2025/cin.xml", cin_return(2025, children=cin_child(2025, "C9")))
        archive.writestr("sen2.xml", sen2_return(2025))
        archive.writestr("workforce.xml", cin_return(2025).replace("<Collection>CIN<", "<Collection>CSWW<"))
        archive.writestr("notes.txt", "hello")
        archive.writestr("__MACOSX/._cin.xml", "junk")
    found = find_returns(_files(tmp_path))
    assert [s.name for s in found.sources] == [
        "returns.zip:2024/cin.xml",
        "returns.zip:2025/cin.xml",
        "returns.zip:sen2.xml",
    ]
    assert dict(found.unused) == {
        "returns.zip:workforce.xml": "children's social work workforce census (CSWW): not a CIN census or SEN2 return, not used",
        "returns.zip:notes.txt": "not a CIN census or SEN2 return (only returns are read from an archive: "
        "unpack extracts into the delivery folder)",
    }
    read = read_returns(found)
    assert sorted(read.extracts) == [s.name for s in found.sources]
    assert read.extracts["returns.zip:2025/cin.xml"].tables["ssd_person"]["pers_person_id"].to_list() == ["C9"]
    assert {row["file"] for row in read.ledger()} == set(read.extracts)


def test_the_same_return_twice_is_loaded_once_whatever_its_wrapping(tmp_path):
    text = cin_return(2025)
    write(tmp_path / "cin.xml", text)
    write(tmp_path / "cin copy.xml", text)
    (tmp_path / "cin.xml.gz").write_bytes(gzip.compress(text.encode()))
    found = find_returns(_files(tmp_path))
    assert [s.name for s in found.sources] == ["cin copy.xml"]
    assert dict(found.unused) == {
        "cin.xml": "same content as cin copy.xml: loaded once",
        "cin.xml.gz": "same content as cin copy.xml: loaded once",
    }


def test_files_that_are_not_returns_are_named_with_the_reason(tmp_path):
    write(tmp_path / "school_census.xml", (FIXTURES / "school_census.xml").read_text())
    write(tmp_path / "notes.xml", "<notes><n>hello</n></notes>")
    write(tmp_path / "bomb.xml", (FIXTURES / "billion_laughs.xml").read_text())
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    found = find_returns(_files(tmp_path))
    assert found.sources == []
    assert dict(found.unused) == {
        "bomb.xml": "a DOCTYPE or entity declaration is not allowed in a return",
        "broken.zip": "unreadable zip archive (BadZipFile)",
        "notes.xml": "XML whose root is notes: not a CIN census or SEN2 return",
        "school_census.xml": "SSDA903 (children looked after) return (SSDA903): not a CIN census or SEN2 return, not used",
    }


def test_a_truncated_return_is_refused_by_name_and_the_others_still_read(tmp_path):
    text = cin_return(2025, children=cin_child(2025) * 3)
    write(tmp_path / "cut.xml", text[: len(text) // 2])
    (tmp_path / "cut.xml.gz").write_bytes(gzip.compress(cin_return(2024).encode())[:-30])
    write(tmp_path / "good.xml", sen2_return(2025))
    found = find_returns(_files(tmp_path))
    read = read_returns(found)
    refused = dict(read.refused + found.unused)
    assert refused["cut.xml"].startswith("not well-formed XML: no element found at line 1 (the file ends inside")
    assert refused["cut.xml"].endswith(": truncated)")
    assert refused["cut.xml.gz"] == "the compressed file ends early: truncated"
    assert list(read.extracts) == ["good.xml"]


def test_a_header_longer_than_64_kib_is_read_whole(tmp_path):
    text = cin_return(2026, children=cin_child(2026, "LONG1"))
    comment = "<!-- " + "exported by the case-management system; " * 2000 + "-->"  # about 80 KiB
    assert len(comment) > 1 << 16
    write(tmp_path / "before_root.xml", text.replace("<Message>", comment + "<Message>"))
    write(
        tmp_path / "in_header.xml",
        text.replace("<CollectionDetails>", comment + "<CollectionDetails>").replace("LONG1", "LONG2"),
    )
    found = find_returns(_files(tmp_path))
    assert found.unused == []
    assert [(s.name, s.collection) for s in found.sources] == [("before_root.xml", "CIN"), ("in_header.xml", "CIN")]
    read = read_returns(found)
    assert read.refused == []
    assert [row["records_loaded"] for row in read.ledger()] == [1, 1]


def test_collection_names_are_compared_without_regard_to_case(tmp_path):
    write(tmp_path / "cin.xml", cin_return(2026).replace("<Collection>CIN<", "<Collection>cin<"))
    write(tmp_path / "sen2.xml", sen2_return(2025).replace("<Collection>SEN2<", "<Collection> Sen2 <"))
    write(tmp_path / "cla.xml", cin_return(2026).replace("<Collection>CIN<", "<Collection>ssda903<"))
    found = find_returns(_files(tmp_path))
    # Another collection in lower case is named for what it is, without contradicting itself.
    assert dict(found.unused) == {
        "cla.xml": "SSDA903 (children looked after) return (ssda903): not a CIN census or SEN2 return, not used"
    }
    assert [(s.name, s.collection) for s in found.sources] == [("cin.xml", "CIN"), ("sen2.xml", "SEN2")]
    read = read_returns(found)
    assert read.refused == []
    assert {row["file"]: row["collection"] for row in read.ledger()} == {"cin.xml": "CIN", "sen2.xml": "SEN2"}
