"""Delivery tables in the contract's column order, and the CSV writer that streams them."""

import csv
import json
from datetime import date
from pathlib import Path

from caseflags.contracts.schema import load_contract

# Contract tables that only the DfE returns fill (the CIN census's 2026-27 PreProceedingsandFGDM
# block, docs/RETURNS.md): the generator delivers no CSV for them, as an authority's SSD export has
# no such table.
RETURNS_ONLY_TABLES = ("cin_pre_proceedings",)

# Every delivered table with its columns, read from the contract (sql/schema.sql, in its order):
# a new extract column needs only the schema. The generator fills what it knows; the rest is blank.
TABLE_COLUMNS: dict[str, list[str]] = {
    name: table.column_names for name, table in load_contract().items() if name not in RETURNS_ONLY_TABLES
}

# The side files that hold the generator's ground truth (never part of a delivery's contract).
TRUTH_COLUMNS = {
    "truth": ["check_id", "person_id", "agency", "entity_id"],
    "truth_links": ["agency", "agency_record_id", "person_id"],
    "near_misses": ["check_id", "person_id", "description"],
    "planted": ["check_id", "person_id", "scenario"],  # the planted exceptions, for tests and docs
    # Partner records of another child of an LA child's household (a twin: same DOB too), and
    # whether social care knows that other child: linkage must never link them to the LA child.
    "truth_relatives": ["agency", "agency_record_id", "person_id", "relationship", "known_to_social_care"],
}


def format_value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "Y"
    if value is False:
        return "N"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class TableWriter:
    """One CSV file: header first, rows streamed, the 1-based line of each row known."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(columns)
        self.last_line = 1

    def write(self, row: dict) -> int:
        self._csv.writerow([format_value(row.get(column)) for column in self.columns])
        self.last_line += 1
        return self.last_line

    def write_raw_lines(self, lines: list[str]) -> int:
        """Pre-formatted lines (attendance, for speed); returns the line of the first one."""
        first = self.last_line + 1
        self._file.writelines(lines)
        self.last_line += len(lines)
        return first

    @property
    def row_count(self) -> int:
        return self.last_line - 1

    def close(self):
        self._file.close()


# Ground truth sits beside the extracts, in a subfolder, so a run over the delivery folder never
# mistakes it for an extract (ingest reads only the folder's own files).
GROUND_TRUTH_DIR = "ground_truth"


def ground_truth(out: Path) -> Path:
    """Where `truth.csv`, `truth_links.csv`, `planted.csv`, `near_misses.csv`, `bad_rows.csv` live."""
    return Path(out) / GROUND_TRUTH_DIR
