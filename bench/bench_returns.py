"""Load time and peak memory of reading a CIN census of N children (default 100,000).

    .venv/bin/python bench/bench_returns.py [--children 100000] [--keep]

Writes a synthetic census (every child with an episode, an assessment with factors, a plan and
an S47 with an ICPC; one child in fifty with an impossible birth date, quarantined; one in
twenty-five with an unknown primary need, a data-quality warning) to a temporary folder, then
reads it in a fresh process so the peak RSS is the reader's own: baseline RSS after imports,
peak RSS after `read_return`, and the wall time of `read_return`. `--gzip` writes and reads the
census as `.xml.gz` (streamed through the containers module). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """    <Child>
      <ChildIdentifiers>
        <LAchildID>{child_id}</LAchildID>
        <UPN>A{upn_digits}</UPN>
        <PersonBirthDate>{dob}</PersonBirthDate>
        <Sex>{sex}</Sex>
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>WBRI</Ethnicity>
        <Disabilities><Disability>{disability}</Disability></Disabilities>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2025-{month:02d}-03</CINreferralDate>
        <ReferralSource>2A</ReferralSource>
        <PrimaryNeedCode>{need}</PrimaryNeedCode>
        <Assessments>
          <AssessmentActualStartDate>2025-{month:02d}-04</AssessmentActualStartDate>
          <AssessmentAuthorisationDate>2025-{month:02d}-20</AssessmentAuthorisationDate>
          <FactorsIdentifiedAtAssessment>
            <AssessmentFactors>4A</AssessmentFactors>
            <AssessmentFactors>15A</AssessmentFactors>
          </FactorsIdentifiedAtAssessment>
        </Assessments>
        <CINPlanDates><CINPlanStartDate>2025-{month:02d}-25</CINPlanStartDate></CINPlanDates>
        <Section47>
          <S47ActualStartDate>2025-{month:02d}-05</S47ActualStartDate>
          <InitialCPCtarget>2025-{month:02d}-26</InitialCPCtarget>
          <ICPCnotRequired>false</ICPCnotRequired>
        </Section47>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>
    </Child>
"""

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails><Collection>CIN</Collection><Year>2026</Year><ReferenceDate>2026-03-31</ReferenceDate></CollectionDetails>
    <Source><SourceLevel>L</SourceLevel><LEA>803</LEA></Source>
  </Header>
  <Children>
"""


def write_census(path: Path, children: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        for n in range(children):
            need = "N99" if n % 25 == 12 else f"N{n % 10}"  # one in 25: unknown code, a warning
            dob = "2015-02-30" if n % 50 == 49 else f"{2008 + n % 15}-0{1 + n % 9}-1{n % 10}"  # one in 50: quarantined
            handle.write(
                CHILD.format(
                    child_id=f"C{n:07d}",
                    upn_digits=f"{803000000000 + n:012d}",
                    dob=dob,
                    sex="MF"[n % 2],
                    disability=("COMM", "AUT", "NONE")[n % 3],
                    month=1 + n % 12,
                    need=need,
                )
            )
        handle.write("  </Children>\n</Message>\n")


READER = """
import json, resource, sys, time
from pathlib import Path
from caseflags.ingest.returns.containers import members
from caseflags.ingest.returns.reader import read_return
import caseflags.contracts.schema as contract
contract.load_contract()
[member], _ = members(Path(sys.argv[1]))
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
cpu_start = time.process_time()
extract = read_return(member.path, member.opener, member.name)
seconds = time.perf_counter() - start
cpu = time.process_time() - cpu_start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "children_read": extract.records_read,
    "children_quarantined": extract.records_quarantined,
    "warnings": len(extract.warnings),
    "rows": {t: f.height for t, f in extract.tables.items()},
    "load_seconds": round(seconds, 2),
    "cpu_seconds": round(cpu, 2),
    "baseline_rss_mb": round(baseline / 1024, 1),
    "peak_rss_mb": round(peak / 1024, 1),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--gzip", action="store_true", help="write and read the census as .xml.gz")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caseflags-bench-returns-"))
    path = folder / "cin_census.xml"
    started = time.perf_counter()
    write_census(path, args.children)
    if args.gzip:
        packed = path.with_name(path.name + ".gz")
        with path.open("rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        path.unlink()
        path = packed
    written = time.perf_counter() - started
    result = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    figures.update(
        {
            "children": args.children,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "write_seconds": round(written, 2),
            "python": sys.version.split()[0],
            "load_average_1m": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count(),
        }
    )
    print(json.dumps(figures))
    if not args.keep:
        path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
