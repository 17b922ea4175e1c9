"""The region manifest: which authorities run together, where their data lives, what they share.

    [region]
    name = "West of England"
    store = "stores/region.duckdb"      # the regional store (only what authorities share)
    out = "region-out"                  # regional outputs: <out>/<as-at>/
    scheduler = "tcp://host:8786"       # optional: a running Dask scheduler; default a local cluster
    workers = 2                         # local cluster size when no scheduler is given
    config = "region-config.toml"       # optional: thresholds of the regional checks

    [[authority]]
    la_code = "803"                     # the authority's LA number; its rows are keyed by it
    name = "South Gloucestershire"
    extracts = "803"                    # delivery folder (optional with `source`: partner files)
    source = "postgresql://db.example/ssd?schema=ssd"  # optional: the authority's database (docs/EXTRACTS.md)
    store = "stores/803.duckdb"
    out = "reports/803"
    config = "803.toml"                 # optional: the authority's own config overrides
    sharing = "exceptions"              # "ids": identifiers and the match only; "exceptions": its exception lists too

Relative paths are relative to the manifest's folder. Every key is known: an unknown or missing
key, a duplicate LA code or store, or an unknown sharing basis is refused with the key named.

No two places may overlap (be the same path, or one inside the other): the region's `store` and
`out`, and each authority's `extracts`, `store` and `out`, with the files every store brings
beside it (web snapshot, workspace database, linkage model, lock), so no run writes over
another's inputs, store or reports. `workers` is 1 to WORKERS_PER_CORE per core of this machine.
Every problem found is reported, one line each.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from caseflags.ingest.database_source import SourceRefused, parse_source_url

SHARING_BASES = ("ids", "exceptions")
REGION_KEYS = {"name": str, "store": str, "out": str, "scheduler": str, "workers": int, "config": str}
REGION_REQUIRED = ("store", "out")
AUTHORITY_KEYS = {
    "la_code": str,
    "name": str,
    "extracts": str,
    "store": str,
    "out": str,
    "config": str,
    "sharing": str,
    "source": str,
}
AUTHORITY_REQUIRED = ("la_code", "store", "out", "sharing")  # and extracts, source or both
LA_CODE_PATTERN = re.compile(r"^[0-9]{3}$")
# A local Dask cluster of more single-threaded processes than this per core only costs memory.
WORKERS_PER_CORE = 4
# Files caseflags keeps beside a store `<name>.duckdb` (web/snapshot.py, web/workspace.py,
# linkage/people.py, store/locking.py); a store's place covers them too.
STORE_COMPANION_SUFFIXES = (".snapshot.duckdb", ".web.sqlite", ".linkage-model.json")


def max_workers() -> int:
    return max(1, os.cpu_count() or 1) * WORKERS_PER_CORE


def store_files(store: Path) -> dict[str, Path]:
    """The store file and the files kept beside it, by what they are."""
    files = {"store": store, "store lock": Path(f"{store}.lock"), "store WAL": Path(f"{store}.wal")}
    for suffix, label in zip(STORE_COMPANION_SUFFIXES, ("web snapshot", "web workspace", "linkage model")):
        files[label] = store.with_suffix(suffix)
    return files


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def overlap_problems(places: list[tuple[str, str, Path]]) -> list[str]:
    """One line per pair of places (owner, what, path) of different owners or kinds that are the
    same path or one inside the other."""
    problems = []
    for i, (owner_a, what_a, a) in enumerate(places):
        for owner_b, what_b, b in places[i + 1 :]:
            if not _overlaps(a, b):
                continue
            if a == b:
                relation = "is the same path as"
            elif a.is_relative_to(b):
                relation = "is inside"
            else:
                relation = "contains"
            problems.append(f"{owner_a} {what_a} {a} {relation} {owner_b} {what_b} {b}")
    return problems


def _places(store: Path, out: Path, authorities: list[Authority]) -> list[tuple[str, str, Path]]:
    places = [("region", what, path) for what, path in store_files(store).items()]
    places.append(("region", "out", out))
    for authority in authorities:
        owner = f"authority {authority.la_code}"
        if authority.extracts is not None:  # (a database source may bring no folder)
            places.append((owner, "extracts", authority.extracts))
        places += [(owner, what, path) for what, path in store_files(authority.store).items()]
        places.append((owner, "out", authority.out))
    return places


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Authority:
    la_code: str
    name: str
    extracts: Path | None
    store: Path
    out: Path
    config: Path | None
    sharing: str
    source: str | None = None  # the authority's database URL (no password: refused)

    @property
    def shares_exceptions(self) -> bool:
        return self.sharing == "exceptions"


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    store: Path
    out: Path
    scheduler: str | None
    workers: int
    config: Path | None
    authorities: tuple[Authority, ...]

    def authority(self, la_code: str) -> Authority:
        return next(a for a in self.authorities if a.la_code == la_code)


def _checked(table: dict, allowed: dict, required: tuple, where: str) -> dict:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ManifestError(f"{where}: unknown key {unknown[0]}")
    for key in required:
        if key not in table:
            raise ManifestError(f"{where}: missing key {key}")
    for key, value in table.items():
        expected = allowed[key]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ManifestError(f"{where}.{key} must be {expected.__name__}")
        if expected is str and not value.strip() and key not in ("scheduler", "config"):
            raise ManifestError(f"{where}.{key} must not be empty")
    return table


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"region", "authority"})
    if unknown:
        raise ManifestError(f"{path}: unknown section [{unknown[0]}]")
    base = path.resolve().parent

    def where_is(value: str) -> Path:
        return (base / value).resolve()  # absolute values stay as they are; symlinks resolved

    region = _checked(data.get("region", {}), REGION_KEYS, REGION_REQUIRED, f"{path}: region")
    workers = region.get("workers", 2)
    if not 1 <= workers <= max_workers():
        raise ManifestError(
            f"{path}: region.workers must be between 1 and {max_workers()} "
            f"({WORKERS_PER_CORE} per core on this machine), got {workers}"
        )
    authorities_raw = data.get("authority", [])
    if not isinstance(authorities_raw, list) or not authorities_raw:
        raise ManifestError(f"{path}: no [[authority]] listed")
    authorities = []
    for number, raw in enumerate(authorities_raw, start=1):
        where = f"{path}: authority {number}"
        if not isinstance(raw, dict):
            raise ManifestError(f"{where} must be a table")
        entry = _checked(raw, AUTHORITY_KEYS, AUTHORITY_REQUIRED, where)
        if not LA_CODE_PATTERN.match(entry["la_code"]):
            raise ManifestError(f"{where}.la_code must be a three-digit LA number, got {entry['la_code']!r}")
        if "extracts" not in entry and "source" not in entry:
            raise ManifestError(f"{where}: missing key extracts (or source)")
        if "source" in entry:
            try:
                parse_source_url(entry["source"])
            except SourceRefused as exc:
                raise ManifestError(f"{where}.source: {exc}") from None
        if entry["sharing"] not in SHARING_BASES:
            raise ManifestError(f"{where}.sharing must be one of {', '.join(SHARING_BASES)}, got {entry['sharing']!r}")
        authorities.append(
            Authority(
                la_code=entry["la_code"],
                name=entry.get("name", entry["la_code"]),
                extracts=where_is(entry["extracts"]) if "extracts" in entry else None,
                store=where_is(entry["store"]),
                out=where_is(entry["out"]),
                config=where_is(entry["config"]) if entry.get("config") else None,
                sharing=entry["sharing"],
                source=entry.get("source"),
            )
        )
    for attribute in ("la_code", "store", "out"):
        values = [getattr(a, attribute) for a in authorities]
        duplicates = sorted({str(v) for v in values if values.count(v) > 1})
        if duplicates:
            raise ManifestError(f"{path}: two authorities share the {attribute} {duplicates[0]}")
    store = where_is(region["store"])
    if store in {a.store for a in authorities}:
        raise ManifestError(f"{path}: region.store is also an authority's store")
    out = where_is(region["out"])
    problems = overlap_problems(_places(store, out, authorities))
    if problems:
        raise ManifestError("\n".join(f"{path}: {problem}" for problem in problems))
    return Manifest(
        path=path,
        name=region.get("name", path.stem),
        store=store,
        out=out,
        scheduler=region.get("scheduler") or None,
        workers=workers,
        config=where_is(region["config"]) if region.get("config") else None,
        authorities=tuple(authorities),
    )
