"""The scan's `plain_ascii_values`: a file whose every value is already in its plain shape, so the
engine (caseflags/ingest/engine.py) skips judging each value's shape. It must never say so of a
file holding a value the shape rule would refuse: checked against the rule itself, on any text,
with blocks as small as one byte so that every pattern also straddles a block seam."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caseflags.ingest import scan

# The engine's shape rule for an identifier (sql/ingest/engine_macros.sql `cf_plain_ascii`), which
# is also what a text value (`cf_plain`) allows in an ASCII file.
PLAIN_VALUE = re.compile(r"[!#-~](?:[ !#-~]*[!#-~])?")


def values_of(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [value for line in lines for value in line.removesuffix("\r").split(",")]


@pytest.mark.parametrize("block", [1, 2, 3, 1 << 20])
@pytest.mark.parametrize(
    "data, plain",
    [
        (b"a,b\nc,d\n", True),
        (b"a,b\r\nc d,e\r\n", True),  # a space inside a value is plain
        (b"a,,b\n,c,\n", True),  # blank values are no value
        (b"a, b\n", False),
        (b"a ,b\n", False),
        (b" a,b\n", False),
        (b"a,b \n", False),
        (b"a,b \r\n", False),
        (b"a,b\nc,d\n e,f\n", False),
        (b"a,\tb\n", False),
        (b"a,b\rc\n", False),  # a carriage return that ends no line
        (b"a,b\r", False),
        (b'a,"b"\n', False),
        ("a,Zoë\n".encode(), False),
        (b"\xef\xbb\xbfa,b\n", False),
    ],
)
def test_plain_values_are_told_from_padded_or_odd_ones(tmp_path, monkeypatch, data, plain, block):
    monkeypatch.setattr(scan, "BLOCK_BYTES", block)
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert scan.scan_file(path).plain_ascii_values is plain


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=[" ", ",", "\n", "\r", "\t", "a", "b", '"', "é"], max_size=40), block=st.integers(1, 8))
def test_a_file_said_plain_holds_only_values_the_shape_rule_accepts(tmp_path_factory, text, block):
    path = tmp_path_factory.mktemp("scan") / "x.csv"
    data = text.encode("utf-8")
    path.write_bytes(data)
    original = scan.BLOCK_BYTES
    scan.BLOCK_BYTES = block
    try:
        said_plain = scan.scan_file(path).plain_ascii_values
    finally:
        scan.BLOCK_BYTES = original
    if said_plain:
        assert all(value == "" or PLAIN_VALUE.fullmatch(value) for value in values_of(data)), text
