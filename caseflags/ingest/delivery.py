"""Finding the files of a delivery folder: one file per contract table, national returns
recognised by content, and every other file refused by name with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.extracts import EXTRACT_SUFFIXES
from caseflags.ingest.returns.reader import detect_return


@dataclass
class DeliveryFiles:
    """The files of one delivery folder: one per table, national returns, and refusals."""

    files: dict[str, Path]
    returns: dict[Path, str]  # national return file -> its collection ('CIN' / 'SEN2')
    refused: list[ExtractRefused]


def discover_delivery(extracts_dir: Path) -> DeliveryFiles:
    """Map each contract table to its file and find CIN census / SEN2 returns (by content);
    unknown or doubled files are refused by name."""
    contract = load_contract()
    found: dict[str, list[Path]] = {}
    returns: dict[Path, str] = {}
    refused: list[ExtractRefused] = []
    for path in sorted(p for p in extracts_dir.iterdir() if p.is_file()):
        if path.name.startswith(".") or path.name.startswith("~$"):
            continue  # editor and Excel lock files
        suffix = path.suffix.lower()
        if suffix == ".xml":
            collection = detect_return(path)
            if collection:
                returns[path] = collection
            else:
                refused.append(ExtractRefused(path.name, "not a CIN census or SEN2 return"))
            continue
        if suffix not in EXTRACT_SUFFIXES:
            continue  # manifests, truth files, notes travel with deliveries
        table = path.stem.lower()
        if table not in contract:
            refused.append(ExtractRefused(path.name, "not a table of the extract contract"))
            continue
        found.setdefault(table, []).append(path)
    files: dict[str, Path] = {}
    for table, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            refused.append(ExtractRefused(names, f"more than one file for table {table}"))
        else:
            files[table] = paths[0]
    return DeliveryFiles(files, returns, refused)
