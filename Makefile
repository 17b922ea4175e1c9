# Two commands matter: `make run` (set up, then the nightly job on the bundled sample)
# and `make test` (set up, then the test suite). Both build .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AS_AT ?= 2026-11-24
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export GX_ANALYTICS_ENABLED ?= False
# The ephemeral Prefect server of `caseflags run` needs more than the default 20 s on a busy machine.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/caseflags run --extracts sample_data/small --as-at $(AS_AT)

test: $(STAMP)
	$(BIN)/pytest

# Large-authority benchmark (generates bench/data/ once, minutes); figures go in bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python bench/run.py --profile large

clean:
	rm -rf $(VENV) reports caseflags.duckdb caseflags.duckdb.wal .prefect
