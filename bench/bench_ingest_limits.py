"""Peak memory of ingest on one enormous field: a CSV whose one record holds a single N MB field.

Each case runs `parse_extract` in a fresh process and reports wall time and peak RSS (the
process's ru_maxrss, so the Python and polars imports are included: the "after imports" column
is that floor). The limits are the configuration's defaults (`[ingest]`: a field of at most
262,144 characters, a record of at most 1,048,576): the record is quarantined with its length
and a 1,000-character prefix, and is never held whole.

    .venv/bin/python bench/bench_ingest_limits.py --sizes 1 50 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = b"meeting_id,person_id,meeting_type,scheduled_date,status,held_date,cancelled_date,minutes_shared_date,child_attended\n"
GOOD = b"M%d,P1,CIN_MEETING,2026-01-05,HELD,,,,Y\n"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from caseflags.settings import load_config
from caseflags.ingest.extracts import parse_extract
from caseflags.ingest.scan import IngestLimits
limits = IngestLimits.from_config(load_config().ingest)
after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
parsed = parse_extract(Path(sys.argv[1]), "meetings", limits=limits)
seconds = time.perf_counter() - start
row = parsed.quarantine.row(0, named=True) if parsed.quarantine.height else {}
print(json.dumps({"seconds": round(seconds, 2), "after_imports_kib": after_imports,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "loaded": parsed.rows_loaded, "quarantined": parsed.rows_quarantined,
                  "reason": row.get("reason"), "raw_length": row.get("raw_length"),
                  "raw_prefix": len(row.get("raw_line") or "")}))
"""


def write_case(path: Path, megabytes: int) -> int:
    with path.open("wb") as handle:
        handle.write(HEADER + GOOD % 1)
        handle.write(b"M2,P1,CIN_MEETING,2026-01-05,HELD,,,")
        block = b"z" * (1 << 20)
        for _ in range(megabytes):
            handle.write(block)
        handle.write(b",Y\n" + GOOD % 3)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 50, 200], help="field sizes in MiB")
    args = parser.parse_args()
    print(
        "| field | file | wall s | RSS after imports | peak RSS | loaded | quarantined | raw_length | raw_line kept |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "meetings.csv"
            file_size = write_case(path, size)
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {size} MiB | {file_size / 1e6:.1f} MB | {r['seconds']} | {r['after_imports_kib'] // 1024} MiB | "
            f"{r['peak_kib'] // 1024} MiB | {r['loaded']} | {r['quarantined']} | {r['raw_length']:,} | "
            f"{r['raw_prefix']} chars |"
        )


if __name__ == "__main__":
    main()
