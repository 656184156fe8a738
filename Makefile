# Set-up and everyday commands. Everything runs from the project root with DAGSTER_HOME here,
# so the UI, the schedules and `make run` share one Dagster instance (dagster.yaml).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)

.PHONY: install run test test-lake faults ui sql docs lint bench clean screenshots mutate

$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

# The warehouse on a DuckLake needs DuckDB 1.5.5 (its extensions are on PyPI only for it), the
# embedded default runs on 2.x: the lake's tests run in an environment of their own.
LAKE_VENV := .venv-lake
$(LAKE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAKE_VENV)/bin/python -m pip install --quiet -e ".[dev,lake]"
	@touch $@

run: install  ## materialise every asset once and print a summary
	$(BIN)/python -m pipelines.run

test: install $(LAKE_VENV)/.installed  ## the whole suite, offline; then the DuckLake tests on DuckDB 1.5.5
	$(BIN)/python -m pytest -m "not faults"
	$(LAKE_VENV)/bin/python -m pytest tests/test_lake.py

test-lake: $(LAKE_VENV)/.installed  ## only the DuckLake tests (PostgreSQL catalog), on DuckDB 1.5.5
	$(LAKE_VENV)/bin/python -m pytest tests/test_lake.py

faults: install  ## the slow fault-injection tests (whole runs killed, two at once, the UI's queue); see RELIABILITY.md
	$(BIN)/python -m pytest -m faults

ui: install  ## Dagster UI and daemon (schedules run) on http://127.0.0.1:3000
	@# The writer pool exists before the first run: two first runs cannot both take it.
	@$(BIN)/dagster instance concurrency set duckdb_writer 1 >/dev/null
	$(BIN)/dg dev --host 127.0.0.1 --port 3000

sql: install  ## make sql Q="select ..." : query the read snapshot
	@$(BIN)/rotation sql "$(Q)"

docs: install  ## regenerate docs/data-dictionary.md from the column docs
	$(BIN)/python -m warehouse.dictionary

bench: install  ## the benchmark at Russell-3000 size (about 42 minutes on 2 cores); rewrites BENCHMARKS.md
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench.run

screenshots: install  ## PNGs of the Dagster UI's main pages and the charts page (Debian's chromium); OUT=folder
	$(BIN)/python -m pip install --quiet -e ".[dev,screenshots]"
	$(BIN)/python -m tools.screenshots $(if $(OUT),--out "$(OUT)")

mutate: install  ## mutation testing of the core modules (MUTATION.md); MODULE=name for one
	$(BIN)/python -m pip install --quiet -e ".[dev,mutate]"
	$(BIN)/python -m tools.mutate $(if $(MODULE),--only $(MODULE))

lint: install
	$(BIN)/ruff check pipelines warehouse tests bench tools

clean:
	rm -rf $(VENV) $(LAKE_VENV) .dagster
