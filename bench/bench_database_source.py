"""The ingest stage from PostgreSQL (`--source`) against the same delivery from files (issue 30).

    .venv/bin/python bench/bench_database_source.py --profile la [--repeats 3]

Generates the profile once (bench/data/<profile>-seed<N>/, shared with bench/run.py), starts a
throwaway PostgreSQL cluster (Debian's server, tests/pg_cluster.py), loads every table of the
delivery into one schema (the SSD tables with the SSD v1.4.5 Eclipse column types, the partner
tables as text columns), then times the ingest stage alone (`stage_delivery` into a fresh store:
reading, typing, quarantine, staging) from the folder and from the database, interleaved, and the
second night from the database when nothing changed (every table UNCHANGED: read and hashed only).
Peak memory is the process's RSS high-water mark after each kind of run, so run kinds in order of
expected size. Figures go in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from deliveries import ensure_data  # noqa: E402
from pg_cluster import start_cluster  # noqa: E402

from caseflags.config import load_config  # noqa: E402
from caseflags.ingest.database_source import open_database  # noqa: E402
from caseflags.ingest.stage import stage_delivery  # noqa: E402
from caseflags.store.database import connect, ensure_store  # noqa: E402

ECLIPSE_DDL = BENCH.parent / "tests" / "fixtures" / "database" / "ssd_eclipse_v1_4_5.sql"


def load_delivery(cluster, delivery: Path) -> tuple[int, float]:
    """Every CSV of `delivery` into reporting.bench; returns (rows, seconds)."""
    started, rows = time.perf_counter(), 0
    with cluster.admin() as admin:
        admin.execute("CREATE DATABASE reporting")
    with cluster.admin("reporting", autocommit=False) as con:
        con.execute("CREATE SCHEMA bench")
        con.execute("SET search_path TO bench")
        con.execute(ECLIPSE_DDL.read_text())
        for csv in sorted(delivery.glob("*.csv")):
            header = csv.open(encoding="utf-8").readline().strip()
            if not csv.stem.startswith("ssd_"):
                columns = ", ".join(f"{c} TEXT" for c in header.split(","))
                con.execute(f"CREATE TABLE {csv.stem} ({columns})")
            with con.cursor().copy(f"COPY {csv.stem} ({header}) FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                with csv.open("rb") as handle:
                    while block := handle.read(1 << 20):
                        copy.write(block)
            rows += con.execute(f"SELECT count(*) FROM {csv.stem}").fetchone()[0]
        con.execute("ANALYZE")
        con.commit()
    return rows, time.perf_counter() - started


def ingest(folder: Path | None, source: str | None, config, store: Path | None = None) -> tuple[float, dict]:
    con = connect(store, create=True) if store is not None else None
    if con is None:
        import duckdb

        con = duckdb.connect()
    ensure_store(con)
    try:
        started = time.perf_counter()
        if source is None:
            delivery = stage_delivery(con, folder, config)
        else:
            with open_database(source, config.ingest) as database:
                delivery = stage_delivery(con, folder, config, database=database)
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return seconds, {t: o.status for t, o in delivery.outcomes.items()}


def first_night(store: Path, source: str, config, as_at: date) -> None:
    """Ingest and publish (the contract stage) from the database, as a night before the timed one."""
    from caseflags import runbook

    con = connect(store, create=True)
    try:
        state = runbook.new_run(con, as_at, None, store.parent / "bench-database-source-reports", store, source=source)
        runbook.ingest(con, state, config)
        runbook.contracts(con, state, config)
    finally:
        con.close()


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="la")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-at", default="2026-11-24")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data")
    parser.add_argument("--delivery", type=Path, help="an existing delivery folder instead of the profile")
    args = parser.parse_args()
    delivery = args.delivery or ensure_data(args.profile, args.seed, date.fromisoformat(args.as_at), args.data_dir)
    files = [p for p in delivery.glob("*.csv")]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"delivery {delivery.name}: {len(files)} CSV files, {size_mb:.0f} MB", flush=True)
    cluster = start_cluster()
    try:
        rows, load_seconds = load_delivery(cluster, delivery)
        print(f"loaded {rows:,} rows into PostgreSQL in {load_seconds:.1f} s", flush=True)
        import os

        os.environ["PGUSER"] = "cf_admin"  # over the unix socket (trusted): no password in the bench
        os.environ["PGHOST"] = str(cluster.socket_dir)  # the URL names no host: libpq takes these
        os.environ["PGPORT"] = str(cluster.port)
        config = load_config()
        from_files, from_database = [], []
        for repeat in range(args.repeats):
            seconds, statuses = ingest(delivery, None, config)
            from_files.append(seconds)
            print(f"files     #{repeat + 1}: {seconds:.1f} s", flush=True)
            seconds, statuses_db = ingest(None, _socket_url(cluster), config)
            from_database.append(seconds)
            print(f"database  #{repeat + 1}: {seconds:.1f} s", flush=True)
            assert statuses == statuses_db, (statuses, statuses_db)
        store = Path(args.data_dir) / "bench-database-source.duckdb"
        store.unlink(missing_ok=True)
        first_night(store, _socket_url(cluster), config, date.fromisoformat(args.as_at))  # published, then again
        unchanged, statuses = ingest(None, _socket_url(cluster), config, store)
        assert set(statuses.values()) <= {"UNCHANGED", "NOT_DELIVERED"}, statuses
        store.unlink(missing_ok=True)
        print(f"\n{delivery.name} ingest stage, {args.repeats} repeats (median): files {statistics.median(from_files):.1f} s, "
              f"PostgreSQL {statistics.median(from_database):.1f} s; an unchanged night from PostgreSQL "
              f"{unchanged:.1f} s; peak RSS {peak_mb()} MB; {rows:,} rows, {size_mb:.0f} MB of CSV")
    finally:
        cluster.stop()


def _socket_url(cluster) -> str:
    """The bench connects over the cluster's unix socket (trusted, so no password is needed):
    the URL names no host, so libpq takes PGHOST (the socket folder) and PGPORT."""
    return "postgresql:///reporting?schema=bench"


if __name__ == "__main__":
    main()
