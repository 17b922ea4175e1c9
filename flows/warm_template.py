"""The warm worker's template: imported once, in the long-lived process `caseflags serve` starts
(flows/warm.py), and never in a process that runs a night itself.

Importing it loads what a night needs and would otherwise import again every night: Prefect's
flow engine, the `nightly` flow with the whole runbook (polars, DuckDB), and the libraries the
stages import lazily (Great Expectations and its SQL layer for the contracts, splink for the
linkage, holidays, Jinja2, the report writers). Every night is a process forked from this one, so
it starts with all of that loaded and with nothing else: no connection, no data, no thread of
ours. Imports only: nothing here opens a store or runs polars or DuckDB, whose thread pools must
not exist in a process that forks.
"""

from __future__ import annotations

import importlib
import os
import time

from caseflags.environment import quiet_environment

# The same quiet, offline settings as flows/nightly.py, before Prefect and GX are imported.
quiet_environment()

# Top-level modules a night imports lazily (measured: the modules a 12-child night adds to
# sys.modules after `caseflags.flows.nightly`), then the flow itself.
WARM_IMPORTS = (
    "prefect.flow_engine",
    "caseflags.flows.nightly",
    "great_expectations",
    "great_expectations.core",
    "great_expectations.expectations",
    "sqlalchemy",
    "duckdb_engine",
    "pandas",
    "pyarrow",
    "splink",
    "scipy",
    "holidays",
    "jinja2",
)

_started = time.perf_counter()
for _name in WARM_IMPORTS:
    importlib.import_module(_name)

# What a night forked from this template can read (caseflags.flows.warm.warm_origin).
TEMPLATE_PID = os.getpid()
IMPORT_SECONDS = round(time.perf_counter() - _started, 2)
