"""Time of merging one child given by two sources (caseflags.ingest.merge_people): N children in
each of two `ssd_person` sources (e.g. a CSV and a census, or two census years), all shared, one
in a thousand disagreeing on sex (quarantined), the rest merged.

    .venv/bin/python bench/bench_merge_people.py [--children 100000]

Prints one JSON line: wall and CPU seconds of `combine_people`, rows kept, children conflicting.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

import polars as pl

from caseflags.ingest.extracts import IDENTIFIER_ISSUE_SCHEMA, QUARANTINE_SCHEMA, ParsedExtract
from caseflags.ingest.merge_people import combine_people


def source(name: str, children: int, sexes: list[str]) -> ParsedExtract:
    text = pl.Utf8
    data = pl.DataFrame(
        {
            "_line": pl.Series(range(1, children + 1), dtype=pl.Int64),
            "pers_person_id": [f"C{i}" for i in range(children)],
            "pers_upn": pl.Series([None] * children, dtype=text),
            "pers_single_unique_id": pl.Series([None] * children, dtype=text),
            "pers_forename": pl.Series(["Ann" if name.endswith(".csv") else None] * children, dtype=text),
            "pers_surname": pl.Series([None] * children, dtype=text),
            "pers_dob": pl.Series([date(2012, 1, 1)] * children, dtype=pl.Date),
            "pers_sex": sexes,
            "pers_send_flag": pl.Series([None] * children, dtype=pl.Boolean),
            "pers_death_date": pl.Series([None] * children, dtype=pl.Date),
            "pers_upn_unknown": pl.Series([None] * children, dtype=text),
        }
    )
    return ParsedExtract(
        "ssd_person",
        name,
        "",
        children,
        data,
        pl.DataFrame(schema=QUARANTINE_SCHEMA),
        pl.DataFrame(schema=IDENTIFIER_ISSUE_SCHEMA),
        {name: children},
        {name: 0},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=100_000)
    n = parser.parse_args().children
    conflicting = n // 1000
    parts = [
        source("ssd_person.csv", n, ["F"] * n),
        source("cin.xml", n, ["F"] * (n - conflicting) + ["M"] * conflicting),
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    parsed, outcome = combine_people(parts, {"ssd_person.csv": 0, "cin.xml": 1})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        json.dumps(
            {
                "children": n,
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "rows_kept": parsed.data.height,
                "conflicting": len(outcome.conflicts),
                "balanced": all(e["balanced"] for e in parsed.ledger()),
            }
        )
    )


if __name__ == "__main__":
    main()
