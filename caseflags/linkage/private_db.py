"""The private in-memory DuckDB that splink works in, kept within the store's memory limit.

splink scores and trains in its own database (its tables never reach the store). That database
is a second DuckDB instance with its own memory: it gets the store connection's `memory_limit`
(`[limits] memory_limit_mib`, set for the night by the runbook), and should it ever need to
spill, it does so into a private folder (0700) beside the store, removed when it closes."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from caseflags.store.database import store_path


@contextmanager
def private_database(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    store = store_path(con)
    with tempfile.TemporaryDirectory(prefix=".linkage-work-", dir=store.parent if store else None) as spill:
        with duckdb.connect(config={"memory_limit": limit, "temp_directory": spill}) as work:
            yield work
