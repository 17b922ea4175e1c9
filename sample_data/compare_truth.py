"""Compare a run's exceptions with the generator's ground truth (`truth.csv`), per check.

Truth and exceptions are compared on (check_id, person_id, agency, entity_id), the keys fixed in
docs/ARCHITECTURE.md. Used by the tests on `small` and by `make bench` on `la` for the docs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class CheckAgreement:
    check_id: str
    truth: int
    found: int
    matched: int
    missed: tuple[Key, ...]
    unexpected: tuple[Key, ...]

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0


def read_truth(delivery: Path) -> set[Key]:
    from caseflags.sample_data.generator import ground_truth

    with (ground_truth(delivery) / "truth.csv").open(encoding="utf-8", newline="") as handle:
        return {
            (row["check_id"], row["person_id"] or "", row["agency"], row["entity_id"]) for row in csv.DictReader(handle)
        }


def run_exceptions(con: duckdb.DuckDBPyConnection, run_id: str) -> set[Key]:
    rows = con.execute(
        "SELECT check_id, coalesce(person_id, ''), agency, entity_id FROM exceptions WHERE run_id = ?", [run_id]
    ).fetchall()
    return {tuple(r) for r in rows}


def compare(truth: set[Key], found: set[Key], check_ids: list[str]) -> list[CheckAgreement]:
    result = []
    for check_id in check_ids:
        expected = {k for k in truth if k[0] == check_id}
        got = {k for k in found if k[0] == check_id}
        result.append(
            CheckAgreement(
                check_id,
                len(expected),
                len(got),
                len(expected & got),
                tuple(sorted(expected - got)),
                tuple(sorted(got - expected)),
            )
        )
    return result


def markdown_table(agreements: list[CheckAgreement]) -> str:
    lines = ["| check_id | truth | found | matched | precision | recall |", "|---|---:|---:|---:|---:|---:|"]
    for a in agreements:
        lines.append(f"| `{a.check_id}` | {a.truth} | {a.found} | {a.matched} | {a.precision:.3f} | {a.recall:.3f} |")
    return "\n".join(lines)
