"""One streaming pass over a delivered file before it is parsed: what it is, and how to read it.

The pass reads the file in fixed-size blocks (memory stays at one block whatever the file
holds) and records its SHA-256, size, kind (from its first bytes, whatever its name says), the
text encoding of a CSV and the facts that decide which CSV reader is safe: the longest physical
line, NUL bytes, quote characters, and whether the last line ends with a line break.

`IngestLimits` carries the `[ingest]` limits of the configuration (see docs/EXTRACTS.md,
"Limits").
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caseflags.resources import config_default

BLOCK_BYTES = 1 << 20
HEAD_BYTES = 4096


@dataclass(frozen=True)
class IngestLimits:
    """Bounds on what one delivered value or record may hold (characters)."""

    max_field_size: int = config_default("ingest", "max_field_size")
    max_record_size: int = config_default("ingest", "max_record_size")
    raw_line_prefix: int = config_default("ingest", "raw_line_prefix")

    @classmethod
    def from_config(cls, ingest: dict) -> IngestLimits:
        return cls(
            max_field_size=int(ingest.get("max_field_size", cls.max_field_size)),
            max_record_size=int(ingest.get("max_record_size", cls.max_record_size)),
            raw_line_prefix=int(ingest.get("raw_line_prefix", cls.raw_line_prefix)),
        )


DEFAULT_LIMITS = IngestLimits()


@dataclass(frozen=True)
class FileScan:
    sha256: str
    size: int
    kind: str  # text | utf16 | gzip | zip | parquet | ole2 | pdf | binary | empty | blank
    encoding: str | None  # CSV text: "utf-8" or "cp1252"; None otherwise
    bom: bool  # UTF-8 byte-order mark at the start
    max_line_bytes: int  # longest physical line, line break excluded
    has_nul: bool
    quotes: int  # quote characters in the file
    ends_with_newline: bool
    lines: int  # line breaks in the file
    damaged_utf8: bool  # UTF-8 file with some bytes that are not UTF-8 (lines quarantined)
    commas: int = 0  # comma characters in the file (the engine's check that no record has extra fields)
    # Every byte printable ASCII but the line breaks (LF or CR LF), and no space beside a comma or
    # a line break: with no quote in the file, every value is then already in its plain shape.
    plain_ascii_values: bool = False

    @property
    def plain_utf8(self) -> bool:
        return self.kind == "text" and self.encoding == "utf-8" and not self.damaged_utf8


KIND_REASONS = {
    "empty": "empty file (0 bytes)",
    "blank": "blank file: no header row",
    "utf16": 'UTF-16 encoded text without a byte-order mark: save it as UTF-8 CSV (or SSMS "Unicode", which has one)',
    "gzip": "compressed file (gzip): deliver the file uncompressed",
    "zip": "a ZIP archive or XLSX workbook, not CSV text",
    "parquet": "a Parquet file, not CSV text",
    "ole2": "an old Excel .xls (or other OLE2) document: save it as .xlsx or CSV",
    "pdf": "a PDF document, not an extract",
    "binary": "not text: a binary file of another kind",
    "compressed": "compressed file: deliver the file uncompressed",
}


def kind_of(head: bytes, size: int) -> str:
    """What the first bytes say the file is, whatever its name."""
    if size == 0:
        return "empty"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    if (
        head.startswith(b"\x1f\x8b")
        or head.startswith(b"BZh")
        or head.startswith(b"\xfd7zXZ\x00")
        or head.startswith(b"(\xb5/\xfd")
    ):
        return "gzip" if head.startswith(b"\x1f\x8b") else "compressed"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    sample = head[:512]
    # UTF-16 without a BOM: ASCII text with a NUL beside every character.
    if len(sample) >= 4 and (sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4):
        return "utf16"
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    if controls > max(8, len(sample) // 10):
        return "binary"
    return "text"


class _Utf8Counter:
    """Incremental UTF-8 check that counts invalid bytes and valid non-ASCII characters, so a
    UTF-8 file with a damaged byte is told apart from a Windows-1252 file."""

    def __init__(self) -> None:
        self.invalid = 0
        self.non_ascii = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, block: bytes, final: bool = False) -> None:
        if block.isascii() and not self._decoder.getstate()[0] and not final:
            return
        text = self._decoder.decode(block, final)
        replaced = text.count("\ufffd")
        self.invalid += replaced
        self.non_ascii += len(text) - len(text.encode("ascii", "ignore")) - replaced


def utf16_bom(head: bytes) -> str | None:
    """The codec of UTF-16 text that starts with its byte-order mark (SSMS's "Unicode" CSV)."""
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    return None


class DecodedText:
    """A UTF-16 file (with its byte-order mark) decoded once into UTF-8, in memory, read through
    the same readers as any CSV: it answers `open`, `read_bytes` and `name` like a Path. Line
    numbers are the delivered file's. None when the bytes are not valid UTF-16."""

    def __init__(self, path: Path, codec: str):
        self.name = path.name
        self.suffix = path.suffix
        raw = path.read_bytes()[2:]
        self.data = raw.decode(codec).encode("utf-8")

    def open(self, mode: str = "rb"):
        return io.BytesIO(self.data)

    def read_bytes(self) -> bytes:
        return self.data


# Bytes a value in its plain shape may hold (printable ASCII), and the line breaks.
_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\n\r"
# A space at a value's edge: beside a comma or a line break (the pair may straddle two blocks).
_EDGE_SPACE = re.compile(rb" [,\r\n]|[,\n] ")


class _PlainValues:
    """Whether every value of the file is plain printable ASCII without padding (see FileScan)."""

    def __init__(self) -> None:
        self.plain = True
        self._last = b"\n"  # the file starts as after a line break

    def feed(self, block: bytes) -> None:
        if not self.plain or not block:
            return
        seam = self._last + block[:1]
        # Single-byte tests first (fast scans); the patterns only where the byte is there at all.
        self.plain = not (
            block.translate(None, _PLAIN_BYTES)
            or _EDGE_SPACE.fullmatch(seam)
            or (b" " in block and _EDGE_SPACE.search(block))
            or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n") + int(block.endswith(b"\r")))
            or (self._last == b"\r" and not block.startswith(b"\n"))
        )
        self._last = block[-1:]

    def done(self) -> bool:
        # The end of the file ends a value too: not after a space, nor a carriage return alone.
        return self.plain and self._last not in (b"\r", b" ")


def scan_file(path: Path) -> FileScan:
    """Stream the file once: hash, kind, encoding and line facts."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    counter = _Utf8Counter()
    plain_values = _PlainValues()
    longest = 0
    current = 0  # length of the line still open at the end of the previous block
    has_nul = False
    quotes = 0
    commas = 0
    lines = 0
    last_byte = b""
    only_blank = True
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK_BYTES)
            if not block:
                break
            digest.update(block)
            if len(head) < HEAD_BYTES:
                head += block[: HEAD_BYTES - len(head)]
            size += len(block)
            counter.feed(block)
            plain_values.feed(block)
            has_nul = has_nul or b"\x00" in block
            quotes += block.count(b'"')
            commas += block.count(b",")
            lines += block.count(b"\n")
            if only_blank and block.strip():
                only_blank = False
            breaks = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            if not len(breaks):
                current += len(block)
            else:
                inner = int(np.diff(breaks).max()) - 1 if len(breaks) > 1 else 0
                longest = max(longest, current + int(breaks[0]), inner)
                current = len(block) - int(breaks[-1]) - 1
            last_byte = block[-1:]
    counter.feed(b"", final=True)
    longest = max(longest, current)
    kind = kind_of(head, size)
    bom = head.startswith(b"\xef\xbb\xbf")
    if kind == "text" and only_blank:
        kind = "blank"
    encoding = None
    damaged = False
    if kind == "text":
        if counter.invalid == 0:
            encoding = "utf-8"
        elif bom or counter.non_ascii > counter.invalid:
            encoding, damaged = "utf-8", True  # mostly valid UTF-8: the bad lines are damage
        else:
            encoding = "cp1252"
    return FileScan(
        sha256=digest.hexdigest(),
        size=size,
        kind=kind,
        encoding=encoding,
        bom=bom,
        max_line_bytes=longest,
        has_nul=has_nul,
        quotes=quotes,
        ends_with_newline=last_byte == b"\n",
        lines=lines,
        damaged_utf8=damaged,
        commas=commas,
        plain_ascii_values=plain_values.done() and not quotes,
    )
