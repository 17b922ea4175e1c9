"""`caseflags inspect --extracts DIR`: what a delivery would become, before anything is loaded
(docs/EXTRACTS.md, "Inspecting a delivery"). An authority's first day: for every file, what it is
recognised as; the columns used, ignored and missing; how many rows would load or be quarantined,
with the top reasons; the date range; the coverage and validity of NHS numbers and UPNs.

It reads through the same readers and typing as a run (`parse_extract`, `read_returns`), so what it
says is what a run would do, and it writes nothing: no store, no files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from caseflags.config import Config
from caseflags.contracts.identifiers import nhs_number_valid_expr, upn_valid_expr
from caseflags.contracts.schema import LINKED_IDENTIFIER_TYPES, NHS_NUMBER_COLUMNS, UPN_COLUMNS, load_contract
from caseflags.ingest.common import COLUMN_ALIASES, ExtractRefused
from caseflags.ingest.delivery import discover_delivery
from caseflags.ingest.extracts import LINE, parse_extract
from caseflags.ingest.returns.sources import read_returns
from caseflags.ingest.scan import IngestLimits
from caseflags.ingest.stage import untrustworthy_reason

# A delivery "would load" unless one of its contract extracts would be refused, or it has no
# ssd_person (every check starts from social care's children).
REQUIRED_TABLES = ("ssd_person",)
TOP_REASONS = 3


@dataclass
class FileInspection:
    file: str
    recognised_as: str  # the contract table, "CIN census return", "not used: ...", "refused"
    verdict: str  # WOULD LOAD | WOULD BE REFUSED | NOT USED
    reason: str | None = None
    used: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # contract columns not delivered (all optional)
    rows_read: int = 0
    would_load: int = 0
    would_quarantine: int = 0
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    date_range: tuple[str, str] | None = None
    identifiers: list[dict] = field(default_factory=list)  # type, column, present, valid, rows
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class DeliveryInspection:
    folder: str
    files: list[FileInspection]
    missing_required: list[str]

    @property
    def would_load(self) -> bool:
        return not self.missing_required and not any(
            f.verdict == "WOULD BE REFUSED" and f.recognised_as in load_contract() for f in self.files
        )


def inspect_delivery(folder: Path, config: Config) -> DeliveryInspection:
    found = discover_delivery(folder)
    limits = IngestLimits.from_config(config.ingest)
    min_fraction = float(config.ingest["min_loaded_fraction"])
    files: list[FileInspection] = []
    for table, path in sorted(found.files.items()):
        files.append(_inspect_extract(path, table, config, limits, min_fraction))
    for problem in found.refused:
        table = Path(problem.file).stem.lower()
        recognised = table if table in load_contract() else "not a table of the extract contract"
        files.append(FileInspection(problem.file, recognised, "WOULD BE REFUSED", problem.reason))
    for unused in found.unused:
        files.append(FileInspection(unused.file, unused.reason, "NOT USED"))
    read = read_returns(found.returns)
    for name, reason in read.refused:
        files.append(FileInspection(name, "DfE return", "WOULD BE REFUSED", reason))
    for entry in read.ledger():
        files.append(
            FileInspection(
                entry["file"],
                f"{entry['collection']} return {entry['census_year']}",
                "WOULD LOAD",
                rows_read=entry["records_read"],
                would_load=entry["records_loaded"],
                would_quarantine=entry["records_quarantined"],
                notes=[f"{entry['warnings']} warnings"] if entry["warnings"] else [],
            )
        )
    delivered = set(found.files) | read.tables()
    missing = [t for t in REQUIRED_TABLES if t not in delivered]
    return DeliveryInspection(str(folder), sorted(files, key=lambda f: f.file), missing)


def _inspect_extract(path: Path, table: str, config: Config, limits: IngestLimits, min_fraction: float):
    spec = load_contract()[table]
    try:
        parsed = parse_extract(path, table, config.agencies, limits=limits, role_codes=config.roles)
    except ExtractRefused as problem:
        return FileInspection(path.name, table, "WOULD BE REFUSED", problem.reason)
    except Exception as exc:  # noqa: BLE001 - inspecting one file never ends the inspection
        return FileInspection(path.name, table, "WOULD BE REFUSED", f"unreadable ({type(exc).__name__})")
    ignored = set(parsed.unused_columns)
    header = parsed.delivered_columns
    delivered = {c.strip().lower() for c in header}
    used = [c for c in spec.column_names if c in delivered or any(COLUMN_ALIASES.get(d) == c for d in delivered)]
    inspection = FileInspection(
        path.name,
        table,
        "WOULD LOAD",
        used=used,
        ignored=[c for c in header if c.strip() in ignored],
        missing=[c for c in spec.column_names if c not in used],
        rows_read=parsed.rows_read,
        would_load=parsed.rows_loaded,
        would_quarantine=parsed.rows_quarantined,
        top_reasons=_top_reasons(parsed.quarantine),
        date_range=_date_range(parsed.rows(), spec),
        identifiers=_identifiers(table, parsed.rows()),
    )
    refusal = untrustworthy_reason(parsed.rows_read, parsed.rows_loaded, min_fraction)
    if refusal:
        inspection.verdict, inspection.reason = "WOULD BE REFUSED", refusal
    for literal, columns in parsed.missing_literals.items():
        inspection.notes.append(f"{sum(columns.values())} {literal} values would load as missing")
    for column, n in parsed.worker_names.items():
        inspection.notes.append(f"{column} holds {n} worker names, not ids (would load as missing)")
    if parsed.warnings.height:
        inspection.notes.append(f"{parsed.warnings.height} values would load as missing with a data-quality warning")
    return inspection


def _top_reasons(quarantine: pl.DataFrame) -> list[tuple[str, int]]:
    if not quarantine.height:
        return []
    labels = Counter(
        f"{column}: {reason}" if column else reason
        for column, reason in quarantine.select("column_name", "reason").iter_rows()
    )
    return labels.most_common(TOP_REASONS)


def _date_range(rows: pl.DataFrame, spec) -> tuple[str, str] | None:
    dates = [c.name for c in spec.columns if c.kind == "date" and c.name in rows.columns]
    if not dates or not rows.height:
        return None
    bounds = rows.select(
        pl.min_horizontal([pl.col(c).min() for c in dates]).alias("low"),
        pl.max_horizontal([pl.col(c).max() for c in dates]).alias("high"),
    ).row(0)
    if bounds[0] is None:
        return None
    return bounds[0].isoformat(), bounds[1].isoformat()


def _identifiers(table: str, rows: pl.DataFrame) -> list[dict]:
    """Per identifier column: rows, how many hold a value, how many of those are valid."""
    found = []
    columns = [(c, "NHS_NUMBER") for t, c in sorted(NHS_NUMBER_COLUMNS) if t == table]
    columns += [(c, "UPN") for t, c in sorted(UPN_COLUMNS) if t == table]
    for column, kind in columns:
        found.append(_coverage(rows, column, kind, rows.height))
    if table == "ssd_linked_identifiers" and rows.height:
        kind = (
            pl.col("link_identifier_type")
            .str.strip_chars()
            .str.to_lowercase()
            .replace_strict(LINKED_IDENTIFIER_TYPES, default=None)
        )
        typed = rows.with_columns(kind.alias("_kind"))
        for id_type in ("NHS_NUMBER", "UPN"):
            subset = typed.filter(pl.col("_kind") == id_type)
            if subset.height:
                found.append(_coverage(subset, "link_identifier_value", id_type, subset.height))
    return found


def _coverage(rows: pl.DataFrame, column: str, kind: str, total: int) -> dict:
    valid = nhs_number_valid_expr(pl.col(column)) if kind == "NHS_NUMBER" else upn_valid_expr(pl.col(column))
    present = rows.select(pl.col(column).is_not_null().sum()).item() if total else 0
    good = rows.filter(pl.col(column).is_not_null()).select(valid.sum()).item() if present else 0
    return {"type": kind, "column": column, "rows": total, "present": int(present), "valid": int(good or 0)}


def describe_coverage(entry: dict) -> str:
    rows, present, valid = entry["rows"], entry["present"], entry["valid"]
    share = f"{100 * present / rows:.1f}%" if rows else "-"
    validity = f"{100 * valid / present:.1f}%" if present else "-"
    return f"{entry['type']} {entry['column']}: {present}/{rows} given ({share}), {valid} valid ({validity})"


__all__ = ["DeliveryInspection", "FileInspection", "inspect_delivery", "describe_coverage", "LINE"]
