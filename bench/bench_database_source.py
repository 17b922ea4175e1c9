"""The ingest stage from PostgreSQL (`--source`) against the same delivery from files (issue 30).

    .venv/bin/python bench/bench_database_source.py --profile la [--repeats 2]

Generates the profile once (bench/data/<profile>-seed<N>/, shared with bench/run.py), starts a
throwaway PostgreSQL cluster (Debian's server, tests/pg_cluster.py) and loads the delivery twice:
schema `ssd` holds the SSD tables only (SSD v1.4.5 Eclipse column types, primary keys), as an
authority's reporting database does; schema `everything` holds every table (the partner tables as
text columns without a key, so they are streamed sorted by every column). It then times the ingest
stage alone (`stage_delivery` into a fresh in-memory store: reading, typing, quarantine, staging),
interleaved: all files; the SSD from PostgreSQL with the partner files from a folder (the set-up
docs/EXTRACTS.md describes); every table from PostgreSQL. Last, a night with nothing changed
after a published one (every table UNCHANGED: read and hashed, not typed). Figures go in
bench/RESULTS.md.
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

from caseflags.ingest.database_source import open_database  # noqa: E402
from caseflags.ingest.stage import stage_delivery  # noqa: E402
from caseflags.settings import load_config  # noqa: E402
from caseflags.store.database import connect, ensure_store  # noqa: E402

ECLIPSE_DDL = BENCH.parent / "tests" / "fixtures" / "database" / "ssd_eclipse_v1_4_5.sql"


def load_delivery(cluster, delivery: Path, schema: str, only_ssd: bool) -> tuple[int, float]:
    """The delivery's CSVs (only the ssd_* ones with `only_ssd`) into reporting.<schema>;
    returns (rows, seconds)."""
    started, rows = time.perf_counter(), 0
    with cluster.admin() as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'reporting'").fetchone():
            admin.execute("CREATE DATABASE reporting")
    with cluster.admin("reporting", autocommit=False) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"SET search_path TO {schema}")
        con.execute(ECLIPSE_DDL.read_text())
        for csv in sorted(delivery.glob("*.csv")):
            header = csv.open(encoding="utf-8").readline().strip()
            if not csv.stem.startswith("ssd_"):
                if only_ssd:
                    continue
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


def partner_files(delivery: Path, folder: Path) -> Path:
    """The delivery's partner files (every table that is not an ssd_* table), linked into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in delivery.glob("*.csv"):
        if not path.name.startswith("ssd_") and not (folder / path.name).exists():
            (folder / path.name).symlink_to(path.resolve())
    return folder


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


def first_night(store: Path, folder: Path | None, source: str, config, as_at: date) -> None:
    """Ingest and publish (the contract stage) from the database, as a night before the timed one."""
    from caseflags import runbook

    con = connect(store, create=True)
    try:
        state = runbook.new_run(
            con, as_at, folder, store.parent / "bench-database-source-reports", store, source=source
        )
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
        ssd_rows, ssd_seconds = load_delivery(cluster, delivery, "ssd", only_ssd=True)
        rows, load_seconds = load_delivery(cluster, delivery, "everything", only_ssd=False)
        print(
            f"loaded {ssd_rows:,} SSD rows ({ssd_seconds:.1f} s) and all {rows:,} rows ({load_seconds:.1f} s) "
            "into PostgreSQL",
            flush=True,
        )
        import os

        os.environ["PGUSER"] = "cf_admin"  # over the unix socket (trusted): no password in the bench
        os.environ["PGHOST"] = str(cluster.socket_dir)  # the URL names no host: libpq takes these
        os.environ["PGPORT"] = str(cluster.port)
        config = load_config()
        partners = partner_files(delivery, Path(args.data_dir) / f"{delivery.name}-partners")
        kinds = {
            "files": (delivery, None),
            "SSD from PostgreSQL + partner files": (partners, _socket_url("ssd")),
            "every table from PostgreSQL": (None, _socket_url("everything")),
        }
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        statuses = {}
        for repeat in range(args.repeats):
            for kind, (folder, source) in kinds.items():
                seconds, statuses[kind] = ingest(folder, source, config)
                times[kind].append(seconds)
                print(f"{kind:<36} #{repeat + 1}: {seconds:.1f} s", flush=True)
        assert len({tuple(sorted(s.items())) for s in statuses.values()}) == 1, statuses
        store = Path(args.data_dir) / "bench-database-source.duckdb"
        store.unlink(missing_ok=True)
        first_night(store, partners, _socket_url("ssd"), config, date.fromisoformat(args.as_at))
        unchanged, unchanged_statuses = ingest(partners, _socket_url("ssd"), config, store)
        assert set(unchanged_statuses.values()) <= {"UNCHANGED", "NOT_DELIVERED"}, unchanged_statuses
        store.unlink(missing_ok=True)
        print(
            f"\n{delivery.name} ingest stage ({rows:,} rows, {size_mb:.0f} MB of CSV; {ssd_rows:,} of the rows "
            f"in SSD tables), median of {args.repeats}:"
        )
        for kind, values in times.items():
            print(f"  {kind:<36} {statistics.median(values):6.1f} s   ({', '.join(f'{v:.1f}' for v in values)})")
        print(f"  {'unchanged night, SSD from PostgreSQL':<36} {unchanged:6.1f} s   (every table UNCHANGED)")
        print(f"  peak RSS of the bench process {peak_mb()} MB")
    finally:
        cluster.stop()


def _socket_url(schema: str) -> str:
    """The bench connects over the cluster's unix socket (trusted, so no password is needed):
    the URL names no host, so libpq takes PGHOST (the socket folder) and PGPORT."""
    return f"postgresql:///reporting?schema={schema}"


if __name__ == "__main__":
    main()
