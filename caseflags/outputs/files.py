"""The one writer of every file a person may open: CSV, XLSX and HTML, owner-only and atomic.

Each file is written to a temporary name beside its final one and renamed into place, 0600.
"""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from caseflags.private_files import FILE_MODE


def temp_path(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(name)


def publish(temp: Path, final: Path) -> None:
    os.chmod(temp, FILE_MODE)
    os.replace(temp, final)



def neutralise(text):
    """Spreadsheet programs run a cell starting with = + - @ as a formula: keep it text."""
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_value(value):
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    temp = temp_path(path)
    with open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_value(row.get(c)) for c in columns])
    publish(temp, path)

