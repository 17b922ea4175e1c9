"""Linkage quality and cost on a generated authority.

    .venv/bin/python bench/bench_linkage.py --profile la [--seed 1] [--out /tmp/bench-la] [--keep]

Generates the profile (unless --out already holds it), loads the tables linkage reads into a
fresh store, runs `link_people` twice (training, then a nightly run reusing the saved model),
and prints precision and recall against the generator's truth_links.csv, overall and per
method, with wall time, CPU time (all threads) and peak memory (RSS of this process, which
holds DuckDB and splink's work database). The figures
go into docs/LINKAGE.md and bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from caseflags.linkage import people as linkage
from caseflags.linkage.blocking import blocking_recall
from caseflags.linkage.parameters import describe_model
from caseflags.store.database import connect, ensure_store

# The contract tables linkage reads.
LINKAGE_INPUTS = ("ssd_person", "ssd_address", "ssd_linked_identifiers", "agency_records")


def load_tables(con: duckdb.DuckDBPyConnection, folder: Path, tables=LINKAGE_INPUTS) -> None:
    """Load generated CSVs into the typed contract tables (clean variant: values already valid).

    A stand-in for ingest when only linkage is measured: read as text, cast to the table's types.
    """
    for table in tables:
        path = folder / f"{table}.csv"
        columns = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        con.execute(
            f"INSERT INTO {table} ({select}) SELECT {select} FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )


def truth_file(folder: Path, name: str) -> Path:
    """The generator keeps its truth in ground_truth/ beside the delivery (older runs: in it)."""
    nested = folder / "ground_truth" / name
    return nested if nested.exists() else folder / name


def load_truth(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE truth_links AS SELECT agency, agency_record_id, nullif(person_id, '') AS person_id "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(truth_file(folder, "truth_links.csv"))],
    )


def link_quality(con: duckdb.DuckDBPyConnection) -> dict:
    """Precision and recall of partner links (SOCIAL_CARE self-links excluded), overall and per method.

    Per method: precision of the links it made, and recall of the true links it was responsible
    for. A true link is a deterministic method's responsibility when its record carries that
    method's key for the child (a valid NHS number or UPN social care holds on the person row,
    one in ssd_linked_identifiers, or the LA child id), the strongest key first, as linkage ranks
    them; every other true link is the model's. `share` is the part of all true links it made.
    """
    ensure_store(con)  # the linkage macros
    rows = con.execute(
        """
        WITH partner_links AS (
            SELECT agency, agency_record_id, person_id, method FROM person_links WHERE method <> 'LA_ID'
        ),
        true_links AS (
            SELECT truth.agency, truth.agency_record_id, truth.person_id,
                   link_nhs_number(record.nhs_number) AS nhs, link_upn(record.upn) AS upn,
                   trim(record.la_person_id) AS la_person_id
            FROM truth_links AS truth
            JOIN agency_records AS record
              ON CAST(record.agency AS VARCHAR) = truth.agency AND record.agency_record_id = truth.agency_record_id
            WHERE truth.person_id IS NOT NULL
        ),
        child_keys AS (
            SELECT pers_person_id AS person_id, link_nhs_number(pers_single_unique_id) AS value, 'NHS_NUMBER' AS method
            FROM ssd_person
            UNION ALL
            SELECT pers_person_id, link_upn(pers_upn), 'UPN' FROM ssd_person
            UNION ALL
            SELECT link_person_id,
                   CASE WHEN lower(link_identifier_type) LIKE 'nhs%' THEN link_nhs_number(link_identifier_value)
                        ELSE link_upn(link_identifier_value) END,
                   'LINKED_IDENTIFIER'
            FROM ssd_linked_identifiers
        ),
        valid_child_keys AS (
            SELECT * FROM child_keys WHERE link_nhs_number_is_valid(value) OR link_upn_is_valid(value)
        ),
        responsible AS (
            SELECT truth.agency, truth.agency_record_id, truth.person_id,
                   coalesce(
                       min_by(keys.method, CASE keys.method WHEN 'NHS_NUMBER' THEN 1 WHEN 'UPN' THEN 2 ELSE 3 END),
                       CASE WHEN any_value(truth.la_person_id) = truth.person_id THEN 'LA_PERSON_ID' END,
                       'PROBABILISTIC'
                   ) AS method
            FROM true_links AS truth
            LEFT JOIN valid_child_keys AS keys
              ON keys.person_id = truth.person_id AND keys.value IN (truth.nhs, truth.upn)
            GROUP BY truth.agency, truth.agency_record_id, truth.person_id
        ),
        made AS (
            SELECT links.method, count(*) AS links,
                   count(*) FILTER (WHERE truth.person_id IS NOT NULL) AS correct
            FROM partner_links AS links
            LEFT JOIN true_links AS truth USING (agency, agency_record_id, person_id)
            GROUP BY ROLLUP (links.method)
        ),
        found AS (
            SELECT responsible.method, count(*) AS responsible,
                   count(*) FILTER (WHERE links.method = responsible.method) AS found_by_it,
                   count(*) FILTER (WHERE links.person_id IS NOT NULL) AS found_by_any
            FROM responsible
            LEFT JOIN partner_links AS links USING (agency, agency_record_id, person_id)
            GROUP BY ROLLUP (responsible.method)
        )
        SELECT coalesce(made.method, found.method, 'ALL') AS method, made.links, made.correct,
               found.responsible, CASE WHEN found.method IS NULL THEN found.found_by_any ELSE found.found_by_it END,
               (SELECT count(*) FROM true_links)
        FROM made
        FULL JOIN found ON made.method IS NOT DISTINCT FROM found.method
        ORDER BY 1
        """
    ).fetchall()
    quality = {}
    for method, links, correct, responsible, found, true_links in rows:
        quality[method] = {
            "links": links or 0,
            "correct": correct or 0,
            "precision": round(correct / links, 5) if links else None,
            "responsible_for": responsible or 0,
            "recall": round(found / responsible, 5) if responsible else None,
            "share": round((correct or 0) / true_links, 5) if true_links else None,
        }
    return quality


def measure_blocking(con: duckdb.DuckDBPyConnection) -> dict:
    """Blocking recall apart from scoring: of the true links, how many some blocking rule reaches
    (all of them, and those no identifier settles, which only the model can find)."""
    linkage.prepare_inputs(con)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW linkage_bench_true AS SELECT * FROM truth_links WHERE person_id IS NOT NULL"
        )
        con.execute(
            "CREATE OR REPLACE TEMP VIEW linkage_bench_true_unsettled AS SELECT t.* FROM linkage_bench_true AS t "
            "SEMI JOIN linkage_unresolved_records USING (agency, agency_record_id)"
        )
        every = blocking_recall(con, "linkage_children", "linkage_records", "linkage_bench_true")
        unsettled = blocking_recall(con, "linkage_children", "linkage_records", "linkage_bench_true_unsettled")
    finally:
        con.execute("DROP VIEW IF EXISTS linkage_bench_true_unsettled")
        con.execute("DROP VIEW IF EXISTS linkage_bench_true")
        linkage.drop_work_tables(con)
    return {"all_true_links": every, "left_to_the_model": unsettled}


class PeakRss:
    """Peak resident memory of this process, sampled (ru_maxrss covers the whole process life)."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="generated delivery folder (made when missing)")
    parser.add_argument("--keep", action="store_true", help="keep the generated delivery and store")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix=f"bench-linkage-{args.profile}-"))
    if not truth_file(out, "truth_links.csv").exists():
        from caseflags.sample_data.generator import generate

        started = time.perf_counter()
        generate(args.profile, args.seed, out)
        print(f"generated {args.profile} in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    store_dir = Path(tempfile.mkdtemp(prefix="bench-linkage-store-"))
    con = connect(store_dir / "store.duckdb")
    ensure_store(con)
    load_tables(con, out)
    load_truth(con, out)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in LINKAGE_INPUTS}

    results = {"profile": args.profile, "seed": args.seed, "rows": counts, "runs": []}
    for label, retrain in (("train", True), ("nightly", False)):
        with PeakRss() as rss:
            started, cpu_started = time.perf_counter(), time.process_time()
            summary = linkage.link_people(con, retrain=retrain)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        results["runs"].append(
            {
                "run": label,
                "seconds": round(elapsed, 1),
                "cpu_seconds": round(cpu, 1),
                "peak_rss_mib": round(rss.peak / 2**20),
                "model": summary.model,
                "links_by_method": summary.links_by_method,
                "possible_matches": summary.possible_matches,
                "conflicts": summary.conflicts,
            }
        )
    results["quality"] = link_quality(con)
    results["blocking"] = measure_blocking(con)
    model = describe_model(con)
    if model is not None:
        results["model"] = {k: model[k] for k in ("training_method", "labelled_pairs", "label_weight", "em_sessions")}
        results["expected_quality"] = [
            {
                k: q[k]
                for k in ("threshold_name", "threshold", "labelled_pairs", "expected_precision", "expected_recall")
            }
            for q in model["expected_quality"]
        ]
    con.close()
    print(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(store_dir, ignore_errors=True)
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
