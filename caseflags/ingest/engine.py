"""A clean UTF-8 CSV parsed and typed inside DuckDB, streamed straight into its staged table.

The common night: every value of the extract is in its plain shape and parses. DuckDB reads the
file once, streaming (its own buffer manager bounds the memory, whatever the file's size), and
types every record by the contract (`sql/ingest/engine_macros.sql`, the same rules as
`extracts.parse_frame`) into the staged table; the first value that is not clean fails the
statement, which stages nothing. Repeated keys are then looked for in the staged table. Nothing is
looped over per row in Python and no copy of the file is held.

Anything else goes to the exact reader (`extracts.parse_extract`), which quarantines with file,
line, column and reason: a value that does not parse, a blank required value, a duplicate key,
SQL Server's NULL literal or the SSD placeholder, a sentinel date, a quote inside a value, a
quoted line break or blank line (lines would no longer be records), sqlcmd's layout, another
encoding, and the tables with rules of their own (factor lists, role codes, worker names, linked
identifiers). So the engine loads a file only when the exact reader would have loaded every
record of it unchanged; `stage_csv_in_engine` says None otherwise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from caseflags.contracts.identifiers import nhs_number_valid_expr, upn_valid_expr
from caseflags.contracts.keys import KEYS_IGNORING_ROWS_WITH_MISSING_PART, UNIQUE_KEYS
from caseflags.contracts.schema import (
    NHS_NUMBER_COLUMNS,
    UPN_COLUMNS,
    ColumnSpec,
    TableSpec,
    load_contract,
)
from caseflags.ingest.common import LINE, ExtractRefused, header_map, unused_columns
from caseflags.ingest.csv_reader import ROWS_AFFECTED, is_underline
from caseflags.ingest.extracts import (
    FLAG_FALSE,
    FLAG_TRUE,
    IDENTIFIER_ISSUE_SCHEMA,
    ONE_OF_REQUIRED,
    QUARANTINE_SCHEMA,
    ROLE_COLUMNS,
    SENTINEL_DATES,
    WORKER_ID_COLUMNS,
    ParsedExtract,
    find_identifier_issues,
)
from caseflags.ingest.scan import FileScan, IngestLimits
from caseflags.resources import sql_text
from caseflags.store.database import create_staged_table
from caseflags.store.publish import STAGED_PREFIX

# Tables with a rule of their own beyond a column's kind: read by the exact reader.
OWN_RULES = {"ssd_linked_identifiers"} | {t for t in WORKER_ID_COLUMNS}
TAIL_BYTES = 4096  # enough to hold sqlcmd's "(N rows affected)" trailer line


def stage_csv_in_engine(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    scan: FileScan,
    limits: IngestLimits,
    agency_aliases: dict[str, str] | None,
    content_sha256: str,
) -> EngineExtract | None:
    """The extract typed into `_staged_<table>` by DuckDB, or None when it is not a clean CSV the
    engine can load whole (the exact reader then reads it; nothing is left staged)."""
    spec = load_contract()[table]
    if not _plain_csv(path, spec, scan, limits):
        return None
    header = _layout_header(path, limits)
    if header is None:
        return None
    try:
        positions = header_map(header, spec, path.name)
    except ExtractRefused:
        return None  # the exact reader refuses it, naming why
    con.execute(sql_text("ingest/engine_macros.sql"))
    query = _Query(spec, positions, agency_aliases or {}, plain_file=scan.plain_ascii_values)
    params = {
        "path": str(path),
        "columns": {f"c{i}": "VARCHAR" for i in range(len(header))},
        "max_line_size": max(scan.max_line_bytes + 2, 2_097_152),
        **query.params,
    }
    staged = f'"{STAGED_PREFIX}{table}"'
    create_staged_table(con, table, STAGED_PREFIX + table)
    # One thread keeps the records in delivery order in the staged table (several may not,
    # whatever preserve_insertion_order says): a staged row's id + 2 is its line. `threads` is one
    # setting for the whole database: the ingest stage holds it at one (ahead.one_thread_each),
    # and it is only changed here (and given back) when a caller did not.
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    try:
        if threads != 1:
            con.execute("SET threads = 1")
        con.execute(
            sql_text("ingest/engine_stage.sql").format(
                staged=staged, typed=query.typed(), values=query.values(), parsed=query.parsed()
            ),
            params,
        )
    except duckdb.OutOfMemoryException:
        # Not the file's fault: the exact reader would need far more ([limits] memory_limit_mib).
        con.execute(f"DROP TABLE IF EXISTS {staged}")
        raise
    except duckdb.Error:
        # A value that is not clean, ragged rows, damaged quoting, invalid UTF-8: the exact reader
        # says which line (the failed statement staged nothing).
        con.execute(f"DROP TABLE IF EXISTS {staged}")
        return None
    finally:
        if threads != 1:
            con.execute(f"SET threads = {threads}")
    try:
        loaded = con.execute(f"SELECT count(*) FROM {staged}").fetchall()[0][0]
        # With no quoted line break and no blank line, line n holds record n - 1 (after the header).
        whole = (
            loaded
            and loaded == scan.lines - 1
            and _commas_in_values(con, scan, params) == scan.commas - (len(header) - 1) * scan.lines
            and not _repeated_keys(con, spec, staged)
        )
        issues = _identifier_issues(con, table, path.name, staged) if whole else None
    except duckdb.OutOfMemoryException:
        con.execute(f"DROP TABLE IF EXISTS {staged}")
        raise
    except duckdb.Error:
        whole = False
    if not whole:
        con.execute(f"DROP TABLE IF EXISTS {staged}")
        return None
    return EngineExtract(
        table=table,
        file=path.name,
        content_sha256=content_sha256,
        rows_read=loaded,
        data=None,
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        identifier_issues=issues,
        reads={path.name: loaded},
        rejected={path.name: 0},
        unused_columns=unused_columns(header, spec),
        delivered_columns=[str(c).strip().lstrip("\ufeff").strip() for c in header],
        con=con,
        staged_name=staged,
        loaded=loaded,
    )


def _commas_in_values(con: duckdb.DuckDBPyConnection, scan: FileScan, params: dict) -> int:
    """The commas inside quoted values. DuckDB's reader drops empty fields after the last one
    (`a,b,c,,`) where the exact reader quarantines the record (too many fields): every other comma
    of the file must be a delimiter, (columns - 1) per line."""
    if not scan.quotes:
        return 0
    counted = " + ".join(
        f"coalesce(strlen(c{i}) - strlen(replace(c{i}, ',', '')), 0)" for i in range(len(params["columns"]))
    )
    read = {k: params[k] for k in ("path", "columns", "max_line_size")}
    return con.execute(sql_text("ingest/engine_commas.sql").format(counted=counted), read).fetchall()[0][0] or 0


def _repeated_keys(con: duckdb.DuckDBPyConnection, spec: TableSpec, staged: str) -> bool:
    """Whether any staged rows share the table's key (`duplicates.py` then decides, row by row)."""
    key = UNIQUE_KEYS.get(spec.name)
    if not key:
        return False
    keyed = "true"
    if spec.name in KEYS_IGNORING_ROWS_WITH_MISSING_PART:
        keyed = " AND ".join(f'"{c}" IS NOT NULL' for c in key)
    sql = sql_text("ingest/engine_repeated_keys.sql").format(
        key=", ".join(f'"{c}"' for c in key), staged=staged, keyed=keyed
    )
    return con.execute(sql).fetchall()[0][0] > 0


def _plain_csv(path: Path, spec: TableSpec, scan: FileScan, limits: IngestLimits) -> bool:
    return (
        path.suffix.lower() == ".csv"
        and scan.plain_utf8
        and not scan.has_nul
        and scan.ends_with_newline
        and scan.max_line_bytes <= min(limits.max_field_size, limits.max_record_size)
        and scan.lines >= 2
        and spec.name not in OWN_RULES
        and not any(c.kind == "code_list" or c.name in ROLE_COLUMNS for c in spec.columns)
    )


def _layout_header(path: Path, limits: IngestLimits) -> list[str] | None:
    """The header's column names; None when the header is quoted or the file carries sqlcmd's
    underline or rows-affected trailer (the exact reader skips those as layout)."""
    with path.open("rb") as handle:
        first = handle.readline(limits.max_record_size + 1).decode("utf-8", "replace")
        second = handle.readline(limits.max_record_size + 1).decode("utf-8", "replace")
        handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
        tail = handle.read().rstrip(b"\r\n").decode("utf-8", "replace")
    if '"' in first or is_underline(second) or ROWS_AFFECTED.match(tail[tail.rfind("\n") + 1 :].strip()):
        return None
    return next(csv.reader([first.lstrip("\ufeff").rstrip("\r\n")]), [])


class _Query:
    """The typed select list for one delivered header, built from the contract's column names and
    kinds only (every delivered value and every code list is a bound parameter).

    Three levels, each value's work done once: `parsed()` reads what typing needs more than once
    (a date's day `d<i>`, a code's capitals `u<i>`); `values()` types each delivered value
    (`t<i>`, beside its text `c<i>`); `typed()` judges each typed value clean or fails the load.
    DuckDB does not share a repeated expression inside CASE, and a macro repeats its argument
    wherever the body names it: written in one level, a date was parsed four times."""

    def __init__(self, spec: TableSpec, positions: dict[str, int], aliases: dict[str, str], plain_file: bool = False):
        self.spec = spec
        # The scan found every value of the file plain (FileScan.plain_ascii_values): only the
        # literals are left to refuse, not the shape of each value.
        self.plain_file = plain_file
        self.positions = positions
        alias_map = {k.strip().upper(): v for k, v in aliases.items()}
        self.params: dict[str, object] = {}
        self._aliases = (list(alias_map), list(alias_map.values()))
        self._parsed: list[str] = []
        self._values: list[str] = []
        self._typed = {col.name: self._column(i, col) for i, col in enumerate(spec.columns)}
        one_of = ONE_OF_REQUIRED.get(spec.name)
        if one_of:
            first, second = one_of
            self._typed[first] = f"cf_one_of({self._typed[first]}, {self._typed[second]})"

    def _column(self, i: int, col: ColumnSpec) -> str:
        position = self.positions.get(col.name)
        if position is None:  # an optional column not delivered
            return "NULL"
        v = f"c{position}"
        plain = f"cf_not_literal({v})" if self.plain_file else f"cf_plain_ascii({v})"
        if col.kind == "date":
            self.params["sentinels"] = [date.fromisoformat(d) for d in SENTINEL_DATES]
            self._parsed.append(f"cf_day({v}) AS d{i}")
            typed, plain = f"cf_not_sentinel(d{i}, $sentinels)", "true"
        elif col.kind == "flag":
            self.params.update(flag_true=sorted(FLAG_TRUE), flag_false=sorted(FLAG_FALSE))
            typed, plain = f"cf_flag({v}, $flag_true, $flag_false)", "true"
        elif col.kind == "integer":
            typed, plain = f"cf_integer({v})", "true"
        elif col.kind == "code":
            plain = "true"
            self.params[f"codes_{i}"] = list(col.codes)
            if "SOCIAL_CARE" in col.codes and self._aliases[0]:
                self.params.update(alias_from=self._aliases[0], alias_to=self._aliases[1])
                self._parsed.append(f"cf_aliased({v}, $alias_from, $alias_to) AS u{i}")
            else:
                self._parsed.append(f"upper({v}) AS u{i}")
            typed = f"cf_listed(u{i}, $codes_{i})"
        elif col.kind in ("id", "nhs_number", "upn"):
            typed = {"id": "cf_id", "nhs_number": "cf_nhs_number", "upn": "cf_upn"}[col.kind] + f"({v})"
        else:  # text
            typed, plain = v, f"cf_not_literal({v})" if self.plain_file else f"cf_plain({v})"
        if typed != v:
            self._values.append(f"{typed} AS t{i}")
            typed = f"t{i}"
        return f"cf_clean({typed}, {v}, {plain}, {'true' if col.required else 'false'})"

    def parsed(self) -> str:
        """What typing a value needs more than once (a date's day, a code's capitals), made once."""
        return ", ".join(["*", *self._parsed])

    def values(self) -> str:
        """The delivered values typed (each once), beside their text."""
        return ", ".join(["*", *self._values])

    def typed(self) -> str:
        return ", ".join(f'{expr} AS "{name}"' for name, expr in self._typed.items())


def _identifier_issues(con: duckdb.DuckDBPyConnection, table: str, file: str, staged: str) -> pl.DataFrame:
    """Invalid NHS numbers and UPNs among the staged rows, found as the exact reader finds them
    (`extracts.find_identifier_issues`) over only the rows holding an invalid value: each
    distinct value is validated once, then those rows are fetched with their lines."""
    checks = [(c, nhs_number_valid_expr) for t, c in NHS_NUMBER_COLUMNS if t == table]
    checks += [(c, upn_valid_expr) for t, c in UPN_COLUMNS if t == table]
    frames = []
    for column, valid in sorted(checks, key=lambda c: c[0]):
        distinct = con.sql(f'SELECT DISTINCT "{column}" FROM {staged} WHERE "{column}" IS NOT NULL').pl()
        invalid = distinct.filter(~valid(pl.col(column))).get_column(column).to_list()
        if invalid:
            where = f'WHERE "{column}" IN (SELECT unnest($values))'
            frames.append(
                con.sql(
                    sql_text("ingest/engine_rows.sql").format(staged=staged, where=where), params={"values": invalid}
                ).pl()
            )
    if not frames:
        return pl.DataFrame(schema=IDENTIFIER_ISSUE_SCHEMA)
    rows = pl.concat(frames).unique(LINE, keep="first").sort(LINE)
    return find_identifier_issues(table, file, _as_parsed(rows))


def _as_parsed(frame: pl.DataFrame) -> pl.DataFrame:
    """Staged rows as the exact reader types them: code columns as text (DuckDB gives ENUMs)."""
    return frame.with_columns(
        [pl.col(c).cast(pl.Utf8) for c, t in frame.schema.items() if isinstance(t, (pl.Enum, pl.Categorical))]
    )


@dataclass
class EngineExtract(ParsedExtract):
    """A ParsedExtract whose rows are already in the staged table: nothing to stage, and its
    rows are read back from the store only if a later rule needs them (`data`). A copy given
    other rows (`dataclasses.replace(..., data=...)`: a child's dependent rows quarantined) is
    staged like any other."""

    con: duckdb.DuckDBPyConnection | None = None
    staged_name: str = ""
    loaded: int = 0

    @property
    def data(self) -> pl.DataFrame:  # type: ignore[override]
        if self._data is None:
            frame = self.con.sql(sql_text("ingest/engine_rows.sql").format(staged=self.staged_name, where="")).pl()
            self._data = _as_parsed(frame).with_columns(pl.col(LINE).cast(pl.Int64))
        return self._data

    @data.setter
    def data(self, value: pl.DataFrame | None) -> None:
        self._data = value if isinstance(value, pl.DataFrame) else None
        self._replaced = self._data is not None

    @property
    def staged(self) -> bool:
        """Its rows are in the staged table as loaded."""
        return not self._replaced

    @property
    def rows_loaded(self) -> int:
        return self.loaded if self.staged else self.data.height

    def ledger(self) -> list[dict]:
        if not self.staged:
            return super().ledger()
        return [
            {
                "file": self.file,
                "table": self.table,
                "read": self.rows_read,
                "loaded": self.loaded,
                "quarantined": 0,
                "balanced": self.rows_read == self.loaded,
            }
        ]
