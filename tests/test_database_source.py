"""The database source (issue 30) against a real PostgreSQL: Debian's server in a throwaway cluster.

The bundled sample's SSD tables are loaded with the SSD v1.4.5 PostgreSQL (Eclipse) column types
(tests/fixtures/database/ssd_eclipse_v1_4_5.sql); the night reads them with `source` and the
partner tables from a folder, and must give the file delivery's exceptions. Each failure the
issue names (password in the URL, bad authentication, missing schema, lost connection) is one
line, and the previous night's data stays live.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import SAMPLE_AS_AT
from pg_cluster import postgres_bin, start_cluster
from typer.testing import CliRunner

pytest.importorskip("psycopg", reason="psycopg is a dependency: `make setup` installs it")
if postgres_bin() is None:
    pytest.skip(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql (.ci/run does)",
        allow_module_level=True,
    )

from caseflags.cli import app  # noqa: E402
from caseflags.errors import RunAborted  # noqa: E402
from caseflags.ingest.database_source import (  # noqa: E402
    PASSWORD_REFUSAL,
    SourceRefused,
    open_database,
    parse_source_url,
)
from caseflags.ingest.stage import stage_delivery  # noqa: E402
from caseflags.runbook import run_without_prefect  # noqa: E402
from caseflags.sample_data import SAMPLE_DELIVERY  # noqa: E402
from caseflags.sample_data._tables import RETURNS_ONLY_TABLES  # noqa: E402
from caseflags.settings import load_config  # noqa: E402
from caseflags.store.database import connect, ensure_store  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "database"
pytestmark = pytest.mark.e2e  # a PostgreSQL cluster and whole nights read from it
READER, READER_PASSWORD = "cf_reader", "reader-secret-for-tests"
DATABASE, SCHEMA = "reporting", "ssd"
EXCEPTION_COLUMNS = "check_id, person_id, agency, entity_type, entity_id, severity, detail"


@pytest.fixture(scope="module")
def cluster():
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def reporting(cluster, tmp_path_factory):
    """The sample's SSD tables in `reporting.ssd` (Eclipse types), a SELECT-only login with a
    SCRAM password, and a libpq password file (0600) for it. Yields the environment that finds it."""
    with cluster.admin() as admin:
        admin.execute(f"CREATE DATABASE {DATABASE}")
        admin.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
    with cluster.admin(DATABASE, autocommit=False) as con:
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        con.execute(f"SET search_path TO {SCHEMA}")
        con.execute((FIXTURES / "ssd_eclipse_v1_4_5.sql").read_text())
        for csv in sorted(SAMPLE_DELIVERY.glob("ssd_*.csv")):
            header = csv.read_text(encoding="utf-8").split("\n", 1)[0]
            with con.cursor().copy(f"COPY {csv.stem} ({header}) FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(csv.read_bytes())
        con.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {READER}")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {READER}")
        con.commit()
    home = tmp_path_factory.mktemp("pgpass")
    passfile = home / "pgpass"
    passfile.write_text(f"127.0.0.1:{cluster.port}:*:{READER}:{READER_PASSWORD}\n")
    passfile.chmod(0o600)
    return {"PGPASSFILE": str(passfile), "PGUSER": READER}


def source_url(cluster, schema: str = SCHEMA, database: str = DATABASE) -> str:
    return f"postgresql://127.0.0.1:{cluster.port}/{database}?schema={schema}"


@pytest.fixture(scope="module")
def partner_folder(tmp_path_factory):
    """The sample's partner files (every table that is not an ssd_* table), as a delivery folder."""
    folder = tmp_path_factory.mktemp("partners")
    for path in SAMPLE_DELIVERY.glob("*.csv"):
        if not path.name.startswith("ssd_"):
            (folder / path.name).symlink_to(path)
    return folder


@pytest.fixture(scope="module")
def libpq_env(reporting):
    """libpq finds the reader's password in the password file (never in the URL)."""
    saved = {k: os.environ.get(k) for k in reporting}
    os.environ.update(reporting)
    yield reporting
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def night(db: Path, out: Path, source: str | None, folder: Path | None, config=None) -> dict:
    con = connect(db, create=True)
    try:
        return run_without_prefect(
            con, folder, date.fromisoformat(SAMPLE_AS_AT), out, config or load_config(), db_path=db, source=source
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def source_night(cluster, libpq_env, partner_folder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("source-night")
    db = folder / "store.duckdb"
    record = night(db, folder / "reports", source_url(cluster), partner_folder)
    return db, folder / "reports", record


def exceptions(db: Path) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(f"SELECT {EXCEPTION_COLUMNS} FROM exceptions ORDER BY ALL").pl()


def live_counts(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in ("ssd_person", "ssd_cin_visits", "agency_records")
        }


# --- the sample from PostgreSQL plus the partner files = the file delivery -------------------------


def test_source_night_gives_the_file_deliverys_exceptions(sample_run, source_night):
    file_db, _, file_record = sample_run
    db, _, record = source_night
    assert record["status"] == "COMPLETED"
    from_files, from_database = exceptions(file_db), exceptions(db)
    assert from_files.height > 100  # the sample's planted exceptions
    assert from_database.filter(pl.col("check_id") != "INVALID_IDENTIFIER").equals(
        from_files.filter(pl.col("check_id") != "INVALID_IDENTIFIER")
    )
    # An invalid identifier is located where it was read: a file's line, the table's row number
    # in primary-key order (the sample is in key order, so row = line - 1 for its header).
    located = from_database.filter(pl.col("check_id") == "INVALID_IDENTIFIER")
    social_care = located.filter(pl.col("entity_id").str.starts_with("ssd_")).get_column("detail")
    assert social_care.len() and all(" (ssd.ssd_" in d for d in social_care)
    assert without_locator(located).equals(
        without_locator(from_files.filter(pl.col("check_id") == "INVALID_IDENTIFIER"))
    )
    assert {c: v["status"] for c, v in record["checks"].items()} == {
        c: v["status"] for c, v in file_record["checks"].items()
    }


def without_locator(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("entity_id").str.replace(r":\d+$", ""),
        pl.col("detail").str.replace(r" \((?:ssd\.)?(ssd_\w+)(?:\.csv)? line \d+\)", " ($1)"),
    ).sort(pl.all())


def test_source_night_records_each_table_by_its_source(sample_run, source_night, cluster):
    _, _, file_record = sample_run
    db, reports, record = source_night
    for table, outcome in record["extracts"].items():
        expected = file_record["extracts"][table]
        assert (outcome["status"], outcome["rows_read"], outcome["rows_loaded"], outcome["rows_quarantined"]) == (
            expected["status"],
            expected["rows_read"],
            expected["rows_loaded"],
            expected["rows_quarantined"],
        ), table
        if table in RETURNS_ONLY_TABLES:  # filled by the CIN census alone: neither source delivers it
            continue
        assert outcome["file"] == (f"{SCHEMA}.{table}" if table.startswith("ssd_") else f"{table}.csv")
    assert record["ledger_balanced"]
    delivery = record["delivery"]
    assert delivery["source"] == source_url(cluster) and delivery["source_tables"] == 13
    run_json = (reports / SAMPLE_AS_AT / "run.json").read_text()
    assert READER_PASSWORD not in run_json and READER not in run_json  # the source named without credentials
    assert json.loads(run_json)["delivery"]["folder"].startswith(source_url(cluster))
    assert "ssd.ssd_person" in (reports / SAMPLE_AS_AT / "report.html").read_text()


# --- change detection -------------------------------------------------------------------------------


def test_unchanged_tables_are_not_parsed_again_and_a_changed_one_is(
    source_night, cluster, libpq_env, partner_folder, tmp_path
):
    config, url = load_config(), source_url(cluster)
    store = tmp_path / "store.duckdb"
    store.write_bytes(source_night[0].read_bytes())  # the night loaded from the database is live
    con = connect(store)
    try:
        with open_database(url, config.ingest) as database:
            again = stage_delivery(con, partner_folder, config, database=database)
        assert {t: o.status for t, o in again.outcomes.items() if t.startswith("ssd_")} == {
            t: "UNCHANGED" for t in again.outcomes if t.startswith("ssd_")
        }
        with cluster.admin(DATABASE) as admin:
            admin.execute(
                f"UPDATE {SCHEMA}.ssd_cin_visits SET cinv_cin_visit_seen = 'N' "
                "WHERE cinv_cin_visit_id = (SELECT min(cinv_cin_visit_id) FROM ssd.ssd_cin_visits)"
            )
        with open_database(url, config.ingest) as database:
            changed = stage_delivery(con, partner_folder, config, database=database)
        assert changed.outcomes["ssd_cin_visits"].status == "LOADED"
        assert changed.outcomes["ssd_person"].status == "UNCHANGED"
    finally:
        con.close()
        with cluster.admin(DATABASE) as admin:
            admin.execute(
                f"UPDATE {SCHEMA}.ssd_cin_visits SET cinv_cin_visit_seen = 'Y' "
                "WHERE cinv_cin_visit_id = (SELECT min(cinv_cin_visit_id) FROM ssd.ssd_cin_visits)"
            )


# --- per-row quarantine, refusals, one moment ---------------------------------------------------------


@pytest.fixture(scope="module")
def damaged(cluster, reporting):
    """Schema `damaged`: an ssd_person whose dates are free text (as some deployments hold them),
    rows that do not parse, values with tabs, line breaks and backslashes; an ssd_cin_visits
    without its required visit date; an empty ssd_disability; an ssd_person file-name clash."""
    with cluster.admin(DATABASE) as admin:
        admin.execute("CREATE SCHEMA damaged")
        admin.execute((FIXTURES / "damaged.sql").read_text())
        admin.execute(f"GRANT USAGE ON SCHEMA damaged TO {READER}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA damaged TO {READER}")
    return source_url(cluster, "damaged")


def test_rows_that_do_not_parse_are_quarantined_by_table_and_row(damaged, libpq_env, tmp_path):
    config = load_config()
    con = connect(tmp_path / "store.duckdb", create=True)
    ensure_store(con)
    folder = tmp_path / "partners"
    folder.mkdir()
    (folder / "ssd_person.csv").write_text("pers_person_id,pers_dob\nX1,2015-01-01\n")
    (folder / "gp_registrations.csv").write_text((SAMPLE_DELIVERY / "gp_registrations.csv").read_text())
    try:
        with open_database(damaged, config.ingest) as database:
            delivery = stage_delivery(con, folder, config, database=database)
    finally:
        con.close()
    person = delivery.outcomes["ssd_person"]
    assert (person.status, person.file, person.rows_read, person.rows_loaded, person.rows_quarantined) == (
        "LOADED",
        "damaged.ssd_person",
        5,
        3,
        2,
    )
    quarantine = pl.concat(delivery.staged.quarantine).filter(pl.col("file") == "damaged.ssd_person")
    # Rows are numbered in primary-key order: P2 is row 2, P4 row 4.
    assert quarantine.select("line", "column_name", "reason").rows() == [
        (2, "pers_dob", "unparseable date (expected YYYY-MM-DD or DD/MM/YYYY)"),
        (4, "pers_dob", "blank required value: neither pers_dob nor pers_expected_dob"),
    ]
    assert quarantine.get_column("raw_line")[0].startswith("P2,")
    assert person.ledger[0]["balanced"] is True
    # The database's table is read; the folder's ssd_person.csv is named, not used.
    assert {
        "file": "ssd_person.csv",
        "reason": f"not used: table ssd_person is read from {damaged}",
    } in delivery.refused_files
    visits = delivery.outcomes["ssd_cin_visits"]
    assert (visits.status, visits.reason) == ("REFUSED", "missing required column cinv_cin_visit_date")
    assert delivery.outcomes["ssd_disability"].status == "REFUSED"
    assert delivery.outcomes["ssd_disability"].reason == "table has no rows"
    assert delivery.outcomes["gp_registrations"].status == "LOADED"  # the partner file beside them
    assert delivery.outcomes["ssd_cin_plans"].status == "NOT_DELIVERED"


def test_values_with_tabs_line_breaks_and_backslashes_arrive_whole(damaged, libpq_env):
    with open_database(damaged, load_config().ingest) as database:
        rows = database.table("ssd_person").rows().frame
    forenames = dict(zip(rows.get_column("pers_person_id"), rows.get_column("pers_forename")))
    assert forenames["P1"] == "Ann\tMarie"
    assert forenames["P3"] == "Line\nbreak \\N back\\slash"
    assert forenames["P5"] is None  # NULL stays NULL
    assert rows.filter(pl.col("pers_person_id") == "P1").get_column("pers_send_flag").to_list() == ["Y"]


def test_a_libpq_service_names_the_server_user_and_password_file(cluster, reporting, tmp_path, monkeypatch):
    service = tmp_path / "pg_service.conf"
    service.write_text(
        f"[caseflags]\nhost=127.0.0.1\nport={cluster.port}\nuser={READER}\npassfile={reporting['PGPASSFILE']}\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    for variable in ("PGPASSFILE", "PGUSER", "PGHOST", "PGPORT"):
        monkeypatch.delenv(variable, raising=False)
    with open_database(f"postgresql:///{DATABASE}?schema={SCHEMA}&service=caseflags", load_config().ingest) as database:
        assert len(database.tables) == 13
        assert database.name == f"postgresql://(service caseflags)/{DATABASE}?schema={SCHEMA}"


def test_rows_streamed_in_small_batches_are_the_rows_of_one_batch(cluster, libpq_env):
    """Batching bounds memory; it must not change a row, its number or the table's digest."""
    ingest = load_config().ingest
    with open_database(source_url(cluster), ingest) as database:
        whole = database.table("ssd_cin_visits").rows()
    with open_database(source_url(cluster), {**ingest, "database_batch_bytes": 4096}) as database:
        row_by_row = database.table("ssd_cin_visits").rows()
    assert whole.frame.height > 4000 and row_by_row.frame.equals(whole.frame)
    assert row_by_row.sha256 == whole.sha256
    assert row_by_row.frame.get_column("_line").to_list() == list(range(1, whole.frame.height + 1))


def test_every_table_is_read_in_one_read_only_repeatable_read_transaction(cluster, libpq_env):
    with open_database(source_url(cluster), load_config().ingest) as database:
        before = database.table("ssd_person").rows().frame.height
        with cluster.admin(DATABASE) as admin:  # another session commits a child meanwhile
            admin.execute(f"INSERT INTO {SCHEMA}.ssd_person (pers_person_id, pers_dob) VALUES ('ZZ-NEW', '2020-01-01')")
        try:
            after = database.table("ssd_person").rows().frame.height
            connection = database.snapshot.connection
            settings = connection.execute(
                "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')"
            ).fetchone()
        finally:
            with cluster.admin(DATABASE) as admin:
                admin.execute(f"DELETE FROM {SCHEMA}.ssd_person WHERE pers_person_id = 'ZZ-NEW'")
    assert after == before  # the snapshot is the moment the night began
    assert settings == ("repeatable read", "on")


# --- failures: one line, exit 2, the previous night stays live ------------------------------------


def test_a_password_in_the_url_is_refused_in_one_line_without_echoing_it(tmp_path):
    with pytest.raises(SourceRefused) as refused:
        parse_source_url("postgresql://cf_reader:hunter2@db.example:5432/reporting?schema=ssd")
    assert str(refused.value) == PASSWORD_REFUSAL
    with pytest.raises(SourceRefused):
        parse_source_url("postgresql://db.example/reporting?schema=ssd&password=hunter2")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--source",
            "postgresql://u:hunter2@db.example/reporting?schema=ssd",
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
        ],
    )
    assert result.exit_code == 2
    assert "hunter2" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "holds a password" in result.output


@pytest.mark.parametrize(
    "url, problem",
    [
        (
            "postgresql://127.0.0.1:{port}/reporting?schema=nowhere",
            "schema 'nowhere' not found in database 'reporting'",
        ),
        ("postgresql://127.0.0.1:{port}/reporting?schema=ssd&user=cf_intruder", "authentication failed"),
        ("postgresql://127.0.0.1:{port}/reporting?schema=ssd&user=cf_reader&passfile=WRONG", "authentication failed"),
        ("postgresql://127.0.0.1:{free}/reporting?schema=ssd", "could not connect to the server"),
        ("postgresql://127.0.0.1:{port}/nodb?schema=ssd", "the database does not exist"),
        (
            "postgresql://127.0.0.1:{port}/reporting?schema=public",
            "no contract table (ssd_person, …) that this login can read",
        ),
    ],
)
def test_an_unusable_source_ends_the_night_in_one_line_and_the_last_data_stays(
    source_night, cluster, libpq_env, tmp_path, url, problem
):
    db, _, _ = source_night
    store = tmp_path / "store.duckdb"
    store.write_bytes(db.read_bytes())
    before = live_counts(store)
    wrong = tmp_path / "wrong-pgpass"
    wrong.write_text(f"*:*:*:{READER}:not-the-password\n")
    wrong.chmod(0o600)
    url = url.format(port=cluster.port, free=_closed_port()).replace("passfile=WRONG", f"passfile={wrong}")
    if "passfile=" in url:  # a passfile is a libpq setting the URL may not carry: it is configuration
        url = url.replace(f"&passfile={wrong}", "")
        config = _config(tmp_path, f'[ingest]\ndatabase_passfile = "{wrong}"\n')
    else:
        config = load_config()
    with pytest.raises(RunAborted) as aborted:
        night(store, tmp_path / "reports", url, None, config)
    message = str(aborted.value)
    assert problem in message and "\n" not in message
    assert READER_PASSWORD not in message and "not-the-password" not in message
    assert live_counts(store) == before
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT status FROM runs WHERE run_id = ?", [SAMPLE_AS_AT]).fetchone()[0] == "FAILED"
        assert con.execute("SELECT count(*) FROM exceptions").fetchone()[0] > 0  # last night's lists kept


def test_a_connection_lost_mid_read_ends_the_night_in_one_line(source_night, cluster, libpq_env, tmp_path, monkeypatch):
    from caseflags.ingest import database_source

    db, _, _ = source_night
    store = tmp_path / "store.duckdb"
    store.write_bytes(db.read_bytes())
    with cluster.admin(DATABASE) as admin:  # a change, so the night reads past the first table
        admin.execute(f"UPDATE {SCHEMA}.ssd_address SET addr_address_type = 'HOME'")
    before = live_counts(store)
    reads = []
    original = database_source.PostgresSnapshot.read

    def read_then_lose_the_server(self, table, limits):
        reads.append(table)
        if len(reads) == 3:  # the server ends the session between two tables
            with cluster.admin(DATABASE) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'caseflags'"
                )
        return original(self, table, limits)

    monkeypatch.setattr(database_source.PostgresSnapshot, "read", read_then_lose_the_server)
    with pytest.raises(RunAborted) as aborted:
        night(store, tmp_path / "reports", source_url(cluster), None)
    assert str(aborted.value) == f"database source {source_url(cluster)}: the connection was lost while reading"
    assert len(reads) == 3
    assert live_counts(store) == before


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(folder: Path, text: str):
    path = folder / "caseflags.toml"
    path.write_text(text)
    return load_config(path)
