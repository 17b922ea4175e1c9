"""Files as authorities send them: plain XML, gzip (`.xml.gz`, or a gzip file named `.xml`) and
zip archives holding one or several returns.

Each readable member becomes a `Member`: a display name used in every reason and quarantine row
(`deliveries.zip:cin_2024.xml`), and an opener that streams its decompressed bytes, so a
compressed return is parsed in chunks like a plain one. The kind is decided by the first bytes,
not the name. Nothing is extracted to disk; a zip inside a zip is not opened (named instead).
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
CONTAINER_SUFFIXES = (".gz", ".zip")
HASH_CHUNK = 1 << 20


@dataclass
class Member:
    name: str  # how the member is named in reasons: file, or archive:member
    path: Path  # the delivered file
    opener: Callable[[Path], BinaryIO]  # decompressed bytes, streamed
    compression: str  # "none" | "gzip" | "zip"
    notes: list[str] = field(default_factory=list)  # e.g. a gzip file named .xml

    def sha256(self) -> str:
        """Digest of the decompressed content: the same return sent twice, zipped or not, is
        recognised as the same."""
        digest = hashlib.sha256()
        with self.opener(self.path) as handle:
            for block in iter(lambda: handle.read(HASH_CHUNK), b""):
                digest.update(block)
        return digest.hexdigest()


@dataclass
class Unopened:
    name: str
    reason: str


def sniff(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(4)
    except OSError:
        return b""


def is_container(path: Path) -> bool:
    head = sniff(path)
    return head.startswith(GZIP_MAGIC) or head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC)


def members(path: Path) -> tuple[list[Member], list[Unopened]]:
    """The readable members of a delivered file (itself when plain), and what could not be
    opened, with the reason."""
    head = sniff(path)
    if head.startswith(GZIP_MAGIC):
        notes = []
        if path.suffix.lower() != ".gz":
            notes.append(
                f"{path.name} is gzip-compressed though named {path.suffix or 'without a suffix'}: read decompressed"
            )
        return [Member(path.name, path, _gzip_open, "gzip", notes)], []
    if head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC):
        return _zip_members(path)
    return [Member(path.name, path, _plain_open, "none")], []


def _plain_open(path: Path) -> BinaryIO:
    return path.open("rb")


def _gzip_open(path: Path) -> BinaryIO:
    return _GzipStream(path)


class _GzipStream:
    """gzip decompressed as it is read, giving every byte it can before a cut-off file fails
    (EOFError), so a truncated `.xml.gz` is named truncated, with its header still readable."""

    def __init__(self, path: Path):
        self._file = path.open("rb")
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buffer = b""
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            compressed = self._file.read(1 << 16)
            if not compressed:
                if not self._inflate.eof:
                    if self._buffer:
                        break  # hand out what was inflated; the next read raises
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                self._done = True
                break
            self._buffer += self._inflate.decompress(compressed)
            while self._inflate.eof and self._inflate.unused_data:  # a multi-member gzip file
                rest = self._inflate.unused_data
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._buffer += self._inflate.decompress(rest)
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _zip_members(path: Path) -> tuple[list[Member], list[Unopened]]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as problem:
        return [], [Unopened(path.name, f"unreadable zip archive ({type(problem).__name__})")]
    if not infos:
        return [], [Unopened(path.name, "empty zip archive")]
    found: list[Member] = []
    unopened: list[Unopened] = []
    for info in infos:
        name = f"{path.name}:{info.filename}"
        leaf = info.filename.rsplit("/", 1)[-1]
        if leaf.startswith(".") or leaf.startswith("~$") or info.filename.startswith("__MACOSX/"):
            continue  # editor, Excel and macOS metadata files
        if info.flag_bits & 0x1:
            unopened.append(Unopened(name, "encrypted zip member"))
            continue
        if leaf.lower().endswith((".zip", ".gz")):
            unopened.append(Unopened(name, "a compressed file inside a zip archive is not opened: unpack it first"))
            continue
        found.append(Member(name, path, _zip_opener(info.filename), "zip"))
    return found, unopened


def _zip_opener(member: str) -> Callable[[Path], BinaryIO]:
    def open_member(path: Path) -> BinaryIO:
        archive = zipfile.ZipFile(path)
        try:
            handle = archive.open(member)
        except BaseException:
            archive.close()
            raise
        return _ClosingMember(handle, archive)

    return open_member


class _ClosingMember:
    """A zip member's stream that also closes its archive."""

    def __init__(self, handle, archive: zipfile.ZipFile):
        self._handle = handle
        self._archive = archive

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def close(self) -> None:
        self._handle.close()
        self._archive.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
