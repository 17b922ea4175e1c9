"""Reading the contract tables straight from the authority's reporting database (`--source`).

The SSD's `ssd_*` tables are built by data-to-insight's scripts inside the authority's own
database (PostgreSQL for Eclipse; SQL Server for SystemC/Liquidlogic and Mosaic). A source URL
names the database and the schema that holds them:

    postgresql://HOST[:PORT]/DATABASE?schema=SCHEMA[&sslmode=…&service=…&user=…]

Credentials never travel in the URL: a URL holding a password is refused (`SourceRefused`, one
line, without echoing it). libpq finds the password itself: `PGPASSFILE` or `~/.pgpass`,
`PGPASSWORD`, `PGSERVICE` / `service=`, or the password file named by `ingest.database_passfile`.

Every table of the schema whose name is a contract table (as the SSD writes it: `ssd_person`; a
name differing only in case is matched too) is read, all of them in ONE read-only REPEATABLE READ
transaction, so they come from one moment. A table's rows are streamed with COPY TO STDOUT in
batches of `ingest.database_batch_bytes` (never one row at a time), in primary-key order, and become
the same text frame a CSV reader makes (contract columns as text + `_line`, here the row number in
that order), so typing, quarantine, duplicate keys and the ledger are the file path's own
(`caseflags.ingest.extracts.parse_source`). The table is named `SCHEMA.TABLE` wherever a file
name would be. The SHA-256 of the streamed rows is the table's content hash, so a table whose rows
did not change since the live load is UNCHANGED exactly as a file is.

A connection that cannot be made, a failed authentication, a missing schema or a connection lost
mid-read is `DatabaseUnavailable` (a RunAborted): one line, exit 2, nothing published, the
previous night's data stays live.

Other database engines plug in behind `TableSource` / `SourceSnapshot` (docs/EXTRACTS.md: SQL
Server through mssql-python or pyodbc; not built here, because it cannot be tested here).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

import polars as pl

from caseflags.contracts.schema import load_contract
from caseflags.errors import RunAborted
from caseflags.ingest.common import LINE, ExtractRefused, header_map
from caseflags.ingest.extracts import ParsedExtract, parse_source
from caseflags.ingest.scan import DEFAULT_LIMITS, IngestLimits
from caseflags.resources import config_default, sql_text

POSTGRES_SCHEMES = ("postgresql", "postgres")
# libpq connection settings a URL may carry besides `schema` (never a password).
POSTGRES_URL_SETTINGS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "service",
    "user",
    "application_name",
    "connect_timeout",
    "target_session_attrs",
    "options",
)
PASSWORD_REFUSAL = (
    "the --source URL holds a password: remove it and let libpq find it (PGPASSFILE or ~/.pgpass, "
    "PGPASSWORD, PGSERVICE, or ingest.database_passfile); nothing was read"
)
NO_ROWS = "table has no rows"
DEFAULT_BATCH_BYTES = config_default("ingest", "database_batch_bytes")
# Values as COPY's text format writes them: one row per line, fields split by tabs, \N for NULL.
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_COPY_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class SourceRefused(RunAborted):
    """A --source that cannot be used as given (bad URL, password in it): one line, exit 2."""


class DatabaseUnavailable(RunAborted):
    """The database could not be read this night (connection, authentication, schema, lost
    mid-read): one line naming the source without credentials; nothing is published."""


@dataclass(frozen=True)
class SourceLocation:
    """Where the tables are: engine, server, database, schema and libpq settings (no secret)."""

    scheme: str
    host: str | None
    port: int | None
    database: str
    schema: str
    settings: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """The source as run.json, the report and every message name it: no user, no secret."""
        service = dict(self.settings).get("service")
        server = self.host or (f"(service {service})" if service else "(PGHOST or the local socket)")
        if self.port is not None:
            server = f"{server}:{self.port}"
        return f"{self.scheme}://{server}/{self.database}?schema={self.schema}"


def parse_source_url(url: str) -> SourceLocation:
    """A `--source` URL read and checked; SourceRefused names what is wrong (never the URL's secret)."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise SourceRefused(
            "--source is not a URL of the form postgresql://HOST[:PORT]/DATABASE?schema=SCHEMA"
        ) from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is not None or any(key.lower() == "password" for key, _ in query):
        raise SourceRefused(PASSWORD_REFUSAL)
    scheme = parts.scheme.lower()
    if scheme in ("mssql", "sqlserver"):
        raise SourceRefused(
            "--source: SQL Server is not built yet (docs/EXTRACTS.md says how it plugs in); "
            "use postgresql://HOST[:PORT]/DATABASE?schema=SCHEMA"
        )
    if scheme not in POSTGRES_SCHEMES:
        raise SourceRefused(
            f"--source: unknown database kind {parts.scheme or '(none)'!r}; "
            "use postgresql://HOST[:PORT]/DATABASE?schema=SCHEMA"
        )
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise SourceRefused("--source names no database: postgresql://HOST[:PORT]/DATABASE?schema=SCHEMA")
    settings = dict(query)
    schema = settings.pop("schema", "").strip()
    if not schema:
        raise SourceRefused("--source names no schema: add ?schema=SCHEMA (the schema holding the ssd_* tables)")
    unknown = sorted(set(settings) - set(POSTGRES_URL_SETTINGS))
    if unknown:
        raise SourceRefused(
            f"--source: unknown setting {unknown[0]!r} (known: schema, {', '.join(POSTGRES_URL_SETTINGS)})"
        )
    if parts.username:
        settings.setdefault("user", parts.username)
    return SourceLocation("postgresql", parts.hostname, port, database, schema, tuple(sorted(settings.items())))


# --- the interface every engine implements -------------------------------------------------------


@dataclass
class TableRows:
    """One table read: its contract columns as text + `_line`, the rows unreadable as rows, and
    the SHA-256 of what was streamed (the table's content hash)."""

    frame: pl.DataFrame
    unreadable: list[dict]
    sha256: str


class SourceSnapshot(Protocol):
    """An open read-only transaction on the source: what it holds, and one table's rows."""

    def tables(self) -> dict[str, str]:
        """Contract table → the table's name in the source (as found, e.g. `ssd_person`)."""

    def read(self, table: str, limits: IngestLimits) -> TableRows:
        """The table's rows; ExtractRefused when the table cannot be loaded at all (a required
        column missing, no rows); DatabaseUnavailable when the source itself fails."""


class TableSource(Protocol):
    location: SourceLocation

    def snapshot(self) -> AbstractContextManager[SourceSnapshot]:
        """Connect and open the night's transaction (DatabaseUnavailable when that fails)."""


# --- what the ingest stage sees ------------------------------------------------------------------


@dataclass
class DatabaseTable:
    """One contract table read from the source, in the shape the ingest stage takes for a file:
    `name` (in every ledger and quarantine row), `sha256` (streams the rows on first use) and
    `parsed` (typing and quarantine through the contract)."""

    table: str
    name: str
    snapshot: SourceSnapshot
    limits: IngestLimits
    digests: dict[str, str]
    _rows: TableRows | None = None

    def rows(self) -> TableRows:
        if self._rows is None:
            self._rows = self.snapshot.read(self.table, self.limits)
            self.digests[self.name] = self._rows.sha256
        return self._rows

    @property
    def sha256(self) -> str:
        return self.rows().sha256

    def parsed(
        self, agency_aliases: dict[str, str] | None, content_sha256: str, limits: IngestLimits = DEFAULT_LIMITS
    ) -> ParsedExtract:
        rows = self.rows()
        self._rows = None  # the text frame is not needed again: let it go once typed
        return parse_source(
            self.table, self, rows.frame, rows.unreadable, agency_aliases, content_sha256=content_sha256, limits=limits
        )


@dataclass
class DatabaseDelivery:
    """The night's open snapshot of the source, as the ingest stage uses it."""

    location: SourceLocation
    snapshot: SourceSnapshot
    limits: IngestLimits
    found: dict[str, str] = field(default_factory=dict)  # contract table → source table name
    digests: dict[str, str] = field(default_factory=dict)  # SCHEMA.TABLE → sha256 of its rows

    @property
    def name(self) -> str:
        return self.location.describe()

    @property
    def tables(self) -> set[str]:
        return set(self.found)

    def table(self, table: str) -> DatabaseTable:
        return DatabaseTable(
            table, f"{self.location.schema}.{self.found[table]}", self.snapshot, self.limits, self.digests
        )

    def describe(self) -> dict:
        """What run.json and the report say was read: the source (no credentials), its tables and
        one SHA-256 over each table's name and row digest."""
        digest = hashlib.sha256()
        for name, sha in sorted(self.digests.items()):
            digest.update(f"{name}\0{sha}\n".encode())
        return {"source": self.name, "tables": len(self.found), "tables_digest": digest.hexdigest()}


@contextmanager
def open_database(url: str, ingest: dict) -> Iterator[DatabaseDelivery]:
    """The source named by `url`, connected, inside its read-only REPEATABLE READ transaction."""
    location = parse_source_url(url)
    limits = IngestLimits.from_config(ingest)
    source = PostgresSource(
        location,
        passfile=ingest.get("database_passfile") or None,
        connect_timeout=int(ingest["database_connect_timeout"]),
        batch_bytes=int(ingest["database_batch_bytes"]),
    )
    with source.snapshot() as snapshot:
        found = snapshot.tables()
        if not found:  # a schema without one SSD table is a wrong schema (or missing grants), not a quiet night
            raise DatabaseUnavailable(
                f"database source {location.describe()}: no contract table (ssd_person, …) "
                f"that this login can read in schema {location.schema!r}"
            )
        yield DatabaseDelivery(location, snapshot, limits, found=found)


# --- PostgreSQL (psycopg 3: COPY TO STDOUT) --------------------------------------------------------


class PostgresSource:
    """A PostgreSQL schema (SSD for Eclipse) read with psycopg's COPY TO STDOUT."""

    def __init__(
        self,
        location: SourceLocation,
        passfile: str | None = None,
        connect_timeout: int = config_default("ingest", "database_connect_timeout"),
        batch_bytes: int = DEFAULT_BATCH_BYTES,
    ):
        self.location = location
        self.passfile = passfile
        self.connect_timeout = connect_timeout
        self.batch_bytes = batch_bytes

    def _conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        settings = dict(self.location.settings)
        # ISO dates whatever the server's DateStyle; UTF-8 text whatever the database's encoding.
        options = " ".join(
            filter(None, [settings.pop("options", ""), "-c DateStyle=ISO,YMD", "-c client_encoding=UTF8"])
        )
        keywords = {"dbname": self.location.database, "options": options, **settings}
        keywords.setdefault("connect_timeout", str(self.connect_timeout))
        keywords.setdefault("application_name", "caseflags")
        if self.location.host:
            keywords["host"] = self.location.host
        if self.location.port is not None:
            keywords["port"] = str(self.location.port)
        if self.passfile:
            keywords["passfile"] = self.passfile
        return make_conninfo("", **keywords)

    @contextmanager
    def snapshot(self) -> Iterator[PostgresSnapshot]:
        import psycopg

        where = self.location.describe()
        try:
            connection = psycopg.connect(self._conninfo(), autocommit=False)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"database source {where}: {_connect_failure(exc)}") from None
        try:
            connection.read_only = True
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snapshot = PostgresSnapshot(connection, self.location, self.batch_bytes)
            snapshot.check_schema()
            yield snapshot
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"database source {where}: {_read_failure(exc)}") from None
        finally:
            try:
                connection.rollback()  # read only: nothing to keep
                connection.close()
            except Exception:  # noqa: BLE001 - a lost connection cannot be closed cleanly
                pass


def _connect_failure(exc: Exception) -> str:
    """The reason a connection failed, in the operator's words (the server's text may name
    users and hosts, so it is not repeated; SQLSTATE decides where libpq gives one)."""
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    if state in ("28P01", "28000") or "authentication failed" in text or "no password supplied" in text:
        return (
            "authentication failed (check the user and PGPASSFILE/.pgpass, PGPASSWORD, PGSERVICE or "
            "ingest.database_passfile)"
        )
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return "the database does not exist"
    if "timeout" in text:
        return "the server did not answer in time (ingest.database_connect_timeout)"
    if "service" in text and ("not found" in text or "definition" in text):
        return "the service named by PGSERVICE / service= is not defined"
    return "could not connect to the server (is it running and reachable?)"


def _read_failure(exc: Exception) -> str:
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith("08") or state in ("57P01", "57P02", "57P03") or "connection" in str(exc).lower():
        return "the connection was lost while reading"
    if state == "42501":
        return "permission denied reading a table (grant SELECT on the schema's tables to this login)"
    return f"reading failed (SQLSTATE {state or 'unknown'})"


class PostgresSnapshot:
    """One read-only REPEATABLE READ transaction on the schema."""

    def __init__(self, connection, location: SourceLocation, batch_bytes: int):
        self.connection = connection
        self.location = location
        self.batch_bytes = max(1, batch_bytes)
        self._catalog: dict[str, list[tuple[str, str, int | None]]] | None = None
        self._found: dict[str, str] = {}

    def check_schema(self) -> None:
        # The first statement opens the transaction: every read after it sees the same moment.
        with self.connection.cursor() as cursor:
            cursor.execute(sql_text("sources/postgresql/schema_exists.sql"), {"schema": self.location.schema})
            if cursor.fetchone()[0] == 0:
                raise DatabaseUnavailable(
                    f"database source {self.location.describe()}: schema "
                    f"{self.location.schema!r} not found in database {self.location.database!r}"
                )

    def _columns(self) -> dict[str, list[tuple[str, str, int | None]]]:
        if self._catalog is None:
            catalog: dict[str, list[tuple[str, str, int | None]]] = {}
            with self.connection.cursor() as cursor:
                cursor.execute(sql_text("sources/postgresql/catalog.sql"), {"schema": self.location.schema})
                for table, column, data_type, key_position in cursor.fetchall():
                    catalog.setdefault(table, []).append((column, data_type, key_position))
            self._catalog = catalog
        return self._catalog

    def tables(self) -> dict[str, str]:
        contract = load_contract()
        by_lower: dict[str, list[str]] = {}
        for name in self._columns():
            by_lower.setdefault(name.lower(), []).append(name)
        found = {}
        for table in contract:
            names = by_lower.get(table, [])
            # As the SSD writes it first; a name differing only in case only when it is the one.
            exact = [n for n in names if n == table]
            if exact or len(names) == 1:
                found[table] = (exact or names)[0]
        self._found = found
        return found

    def read(self, table: str, limits: IngestLimits) -> TableRows:
        import psycopg

        try:
            return self._read(table, limits)
        except psycopg.Error as exc:  # the source failed, not the table: the night stops
            raise DatabaseUnavailable(f"database source {self.location.describe()}: {_read_failure(exc)}") from None

    def _read(self, table: str, limits: IngestLimits) -> TableRows:
        from psycopg import sql

        spec = load_contract()[table]
        source_name = self._found[table]
        name = f"{self.location.schema}.{source_name}"
        columns = self._columns()[source_name]
        positions = header_map([c for c, _, _ in columns], spec, name)  # refuses a missing required column
        chosen = sorted(set(positions.values()))
        chosen_names = [columns[i][0] for i in chosen]
        keys = sorted((k, c) for c, _, k in columns if k is not None)
        order = [c for _, c in keys] or chosen_names
        statement = sql.SQL(sql_text("sources/postgresql/read_table.sql")).format(
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in chosen_names),
            table=sql.Identifier(self.location.schema, source_name),
            order=sql.SQL(", ").join(sql.Identifier(c) for c in order),
        )
        digest = hashlib.sha256("\t".join(chosen_names).encode("utf-8") + b"\n")
        frames, unreadable = [], []
        next_line = 1
        for batch in _copy_batches(self.connection, statement, self.batch_bytes, digest):
            frame, rejected = _copy_text_frame(batch, chosen_names, next_line, limits)
            next_line += frame.height + len(rejected)
            frames.append(frame)
            unreadable.extend(rejected)
        text = (
            pl.concat(frames) if frames else pl.DataFrame(schema={**{c: pl.Utf8 for c in chosen_names}, LINE: pl.Int64})
        )
        if text.height == 0 and not unreadable:
            raise ExtractRefused(name, NO_ROWS)
        booleans = {columns[i][0] for i in chosen if columns[i][1] == "boolean"}
        padded = {columns[i][0] for i in chosen if columns[i][1] == "character"}
        source_column = {c: columns[i][0] for c, i in positions.items()}
        frame = text.select(
            [
                _as_delivered(pl.col(source_column[c]), source_column[c] in booleans, source_column[c] in padded).alias(
                    c
                )
                if c in source_column
                else pl.lit(None, pl.Utf8).alias(c)
                for c in spec.column_names
            ]
            + [pl.col(LINE)]
        )
        return TableRows(frame, unreadable, digest.hexdigest())


def _as_delivered(column: pl.Expr, boolean: bool, padded: bool) -> pl.Expr:
    """A database value as the text a file would hold: booleans as Y/N, CHAR(n) without padding."""
    if boolean:
        return pl.when(column == "t").then(pl.lit("Y")).when(column == "f").then(pl.lit("N")).otherwise(column)
    if padded:
        return column.str.strip_chars_end(" ")
    return column


def _copy_batches(connection, statement, batch_bytes: int, digest) -> Iterator[bytes]:
    """COPY TO STDOUT's rows straight from libpq, joined into batches of about `batch_bytes` and
    hashed as they pass. libpq hands over one row (one text line: COPY's text format escapes line
    breaks inside values) per call, so the loop stays in libpq's C calls: psycopg's own COPY
    reader costs a Python generator and a wait per row, most of the time on a large table.
    Errors become psycopg's exceptions."""
    from psycopg import errors, pq

    pgconn = connection.pgconn
    pgconn.send_query(statement.as_bytes(connection))
    started = pgconn.get_result()
    if started is None or started.status != pq.ExecStatus.COPY_OUT:
        raise (
            errors.error_from_result(started, encoding="utf-8")
            if started is not None
            else errors.OperationalError("COPY did not start")
        )
    get_row = pgconn.get_copy_data
    pending: list[bytes] = []
    size = 0
    while True:
        nbytes, row = get_row(0)  # blocks in libpq until a row arrives; -1 at the end
        if nbytes <= 0:
            break
        pending.append(row)
        size += nbytes
        if size >= batch_bytes:
            batch = b"".join(pending)
            digest.update(batch)
            yield batch
            pending, size = [], 0
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise errors.error_from_result(result, encoding="utf-8")
    if pending:
        batch = b"".join(pending)
        digest.update(batch)
        yield batch


def _copy_text_frame(
    batch: bytes, columns: list[str], first_line: int, limits: IngestLimits
) -> tuple[pl.DataFrame, list[dict]]:
    """One batch of COPY text rows as a text frame numbered from `first_line`; a row holding a
    value longer than max_field_size is not kept (listed as unreadable, as a file's would be)."""
    expected = batch.count(b"\n")
    frame = pl.read_csv(
        batch,
        has_header=False,
        separator="\t",
        quote_char=None,
        infer_schema=False,
        new_columns=columns,
        null_values="\\N",
        raise_if_empty=False,
        truncate_ragged_lines=False,
    )
    if frame.height != expected:  # a row polars read otherwise than COPY wrote it: never silently
        raise ValueError("COPY text rows and parsed rows differ")
    frame = (
        frame.with_columns([_unescaped(frame, c) for c in columns])
        .with_row_index(LINE, offset=first_line)
        .with_columns(pl.col(LINE).cast(pl.Int64))
    )
    too_long = pl.any_horizontal([pl.col(c).str.len_chars() > limits.max_field_size for c in columns])
    long_rows = frame.filter(too_long.fill_null(False))
    unreadable = []
    if long_rows.height:
        for row in long_rows.iter_rows(named=True):
            column = next(c for c in columns if row[c] is not None and len(row[c]) > limits.max_field_size)
            unreadable.append(
                {
                    "line": row[LINE],
                    "column_name": column,
                    "reason": f"field longer than max_field_size ({limits.max_field_size} characters)",
                }
            )
        frame = frame.filter(~too_long.fill_null(False))
    return frame, unreadable


def _unescaped(frame: pl.DataFrame, column: str) -> pl.Expr:
    """COPY text escapes (\\n, \\t, \\\\ …) undone; only values holding a backslash pay for it."""
    values = pl.col(column)
    if not frame.get_column(column).str.contains("\\", literal=True).any():
        return values
    return (
        pl.when(values.str.contains("\\", literal=True))
        .then(
            values.map_elements(
                lambda v: _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), v), return_dtype=pl.Utf8
            )
        )
        .otherwise(values)
    )
