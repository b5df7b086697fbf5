# opvalue: every target sets up .venv first when it is missing or older than pyproject.toml.
# Settings (environment, with defaults): OPVALUE_INPUT_DIR=data/sample,
# OPVALUE_WAREHOUSE=data/warehouse/opvalue.duckdb, PORT=8501 and HOST=127.0.0.1 for the dashboard
# (HOST=0.0.0.0 shares it on the network: configure the login first, see docs/dashboard.md),
# ALLOW_EMPTY=1 to let `make pipeline` publish an empty registry or a lost source.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
HOST ?= 127.0.0.1
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Dagster's instance settings (tick retention); copied once, so later edits in DAGSTER_HOME stay.
DAGSTER_YAML := $(DAGSTER_HOME)/dagster.yaml

.PHONY: help setup run pipeline dashboard dev test lint sample calibrate bench browser clean

help:
	@echo "make run        set up, build the warehouse from the sample data, start the dashboard"
	@echo "make pipeline   build the warehouse once and exit (non-zero exit when a step fails or the build is refused)"
	@echo "make dashboard  start the dashboard on the existing warehouse (127.0.0.1; HOST=0.0.0.0 to share)"
	@echo "make dev        the Dagster UI: asset graph, checks, schedule and sensor"
	@echo "make test       set up and run the whole test suite"
	@echo "make lint       ruff (format and lint) and sqlfluff (DuckDB dialect); what CI runs before the tests"
	@echo "make sample     regenerate the bundled sample in data/sample"
	@echo "make calibrate  simulated worlds with known truth (week shocks, common shocks, trends): every target, pass/miss; the sample on 10 seeds"
	@echo "make bench      time the pipeline against raw DuckDB (BENCH_ITEMS=1000000)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "opvalue needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

$(DAGSTER_HOME):
	@mkdir -p $(DAGSTER_HOME)

$(DAGSTER_YAML): | $(DAGSTER_HOME)
	cp pipelines/dagster.yaml $(DAGSTER_YAML)

pipeline: setup $(DAGSTER_YAML)
	$(PY) -m pipelines.cli build$(if $(filter 1 true yes,$(ALLOW_EMPTY)), --allow-empty)

dashboard: setup
	@echo "opvalue dashboard: http://$(HOST):$(PORT)"
	$(VENV)/bin/streamlit run dashboards/app.py --server.headless true --server.address $(HOST) --server.port $(PORT) --browser.gatherUsageStats false --client.toolbarMode viewer

run: pipeline dashboard

dev: setup $(DAGSTER_YAML)
	$(VENV)/bin/dagster dev -w workspace.yaml

# The browser test drives Debian's Chromium; install it when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing Chromium (Debian package) for the browser test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(PY) -m pytest

# Settings in pyproject.toml ([tool.ruff], [tool.sqlfluff]).
lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/sqlfluff lint pipelines dashboards benchmarks

sample: setup
	$(PY) -m pipelines.sample.generate --out data/sample

calibrate: setup
	$(PY) -m pipelines.calibration

# BENCH_ITEMS (default 1000000) work items; prints the table and updates docs/performance.md.
bench: setup
	$(PY) -m benchmarks.run

clean:
	rm -rf data/warehouse test-output .pytest_cache
