# Two commands do everything on a fresh machine with Python 3.11: `make run` and `make test`.
# The venv's interpreter: the distribution's python3.11 when it can make a venv, else python3.11 on PATH.
# Debian's is statically linked and runs the platform faster than the pyenv build first on this machine's PATH
# (a shared libpython, built without --enable-optimizations; figures in docs/measured.md).
# `make PY=/path/to/python3.11` chooses another; an existing .venv keeps the interpreter it was made with
# (remove it to change).
PY ?= $(shell for p in /usr/bin/python3.11 python3.11; do $$p -c 'import ensurepip, venv' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
DEV_PORT ?= 3000
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install run test test-fast dev docs lint bench clean portal spark-check

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || { rm -rf $(VENV); python3.11 -m venv $(VENV); }
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	# An older `make test` put pyspark here; the job's venv must not hold it (see the spark venv below).
	$(BIN)/pip uninstall -q -y pyspark dbt-spark > /dev/null 2>&1 || true
	# This machine sets PYTHONDONTWRITEBYTECODE: compile once here, or every run pays the imports again.
	$(BIN)/python -m compileall -q -j 0 $(VENV) > /dev/null 2>&1 || true
	touch $(STAMP)

install: $(STAMP)

# pyspark (Spark's jars, ~450 MB) only for the Spark check, and in a venv of its own: with pyspark importable,
# `import great_expectations` exits its process wherever __main__ has no __file__ (every Dagster run worker, the
# GX worker), so it must never be importable where the job runs. Java 17 comes from the system.
SPARK_VENV := .venv-spark
SPARK_BIN := $(SPARK_VENV)/bin
SPARK_STAMP := $(SPARK_VENV)/.installed

$(SPARK_STAMP): pyproject.toml constraints.txt
	bash scripts/ensure-java.sh
	test -x $(SPARK_BIN)/python || $(PY) -m venv $(SPARK_VENV) || { rm -rf $(SPARK_VENV); python3.11 -m venv $(SPARK_VENV); }
	$(SPARK_BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[spark]'
	$(SPARK_BIN)/python -m compileall -q -j 0 $(SPARK_VENV) > /dev/null 2>&1 || true
	touch $(SPARK_STAMP)

# The demo inbox in data/raw, every quarter, with the marked demo pseudonym key.
run: install
	SASAC_DEMO=1 $(BIN)/sasac-skills run --all

# The full tier includes the Spark check (tests/test_spark_check.py, test_dbt_portability.py): they run the spark
# venv's interpreter (SASAC_SPARK_PYTHON) in child processes.
# --durations: the CI log lists the slowest tests, which is where the suite's time budget goes.
test: install $(SPARK_STAMP)
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-office.sh
	SASAC_DEMO=1 SASAC_SPARK_PYTHON=$(CURDIR)/$(SPARK_BIN)/python $(BIN)/pytest -q --durations=30

# The developer's loop: everything but the whole-graph runs and full dbt builds (marked slow).
test-fast: install
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-office.sh
	SASAC_DEMO=1 $(BIN)/pytest -q -m "not slow"

# The demo's raw tables as Parquet, every model and data test built on DuckDB and on a local Spark session,
# each mart compared (rows + checksum); non-zero on any difference.
# SPARK_CHECK_ARGS, e.g. `--warehouse data/work/warehouse.duckdb` to reuse a run's working database.
# The demo run is made by the platform's venv (--run-with), the builds and the comparison by the spark venv.
spark-check: install $(SPARK_STAMP)
	SASAC_DEMO=1 $(SPARK_BIN)/python -m pipelines.lib.scaleout.spark_check --run-with $(BIN)/sasac-skills $(SPARK_CHECK_ARGS)

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

# The schedule and the inbox sensor start stopped here (production turns them on: deploy/production.env), so
# opening the UI runs nothing. Ctrl-C stops it within seconds (scripts/dagster-dev.sh).
dev: install $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) SASAC_DEMO=1 exec bash scripts/dagster-dev.sh $(BIN)/dagster \
		-m pipelines.definitions -h 127.0.0.1 -p $(DEV_PORT)

# dbt's documentation site (column comments, lineage) for the warehouse `make run` built: generated offline
# from a copy of the working database, served on http://127.0.0.1:$(DOCS_PORT)/ until Ctrl-C.
DOCS_PORT ?= 8080

docs: install
	bash scripts/dbt-docs.sh generate
	DOCS_PORT=$(DOCS_PORT) exec bash scripts/dbt-docs.sh serve

# The filing portal on http://127.0.0.1:8040 (docs/portal.md). Demo: its own inbox in the working area, holding
# a copy of the demo registry, so uploads never land in the committed data/raw; `sasac-skills run --inbox
# data/work/inbox --period …` then processes them. Accounts: `sasac-skills portal add-user …`.
PORTAL_INBOX ?= data/work/inbox
PORTAL_PORT ?= 8040

portal: install
	mkdir -p $(PORTAL_INBOX)
	test -f $(PORTAL_INBOX)/registry.csv || cp data/raw/registry.csv $(PORTAL_INBOX)/registry.csv
	SASAC_DEMO=1 SASAC_INBOX=$(PORTAL_INBOX) $(BIN)/sasac-skills portal serve --host 127.0.0.1 --port $(PORTAL_PORT)

lint: install
	$(BIN)/ruff check pipelines tests benchmarks
	$(BIN)/sqlfluff lint dbt_project/models

# Issue 10's figures for each N (enterprises × 1 quarter); e.g. `make bench BENCH_ENTERPRISES=1000`; then the demo
# quarter by quarter, one release each: what a release keeps and costs (issue 27).
# Generated inboxes are cached (default and BENCH_CACHE=DIR: benchmarks/quarter_inbox.py) so a second bench reuses them.
BENCH_ENTERPRISES ?= 1000 9000
BENCH_CACHE_ARG = $(if $(BENCH_CACHE),--cache $(BENCH_CACHE))

bench: install
	SASAC_DEMO=1 $(BIN)/python -m benchmarks.bench_intake $(BENCH_CACHE_ARG)
	SASAC_DEMO=1 $(BIN)/python -m benchmarks.bench_expectations
	SASAC_DEMO=1 $(BIN)/python -m benchmarks.bench_hostile
	SASAC_DEMO=1 $(BIN)/python -m benchmarks.bench_quarterly_run $(BENCH_CACHE_ARG) \
		--enterprises $(BENCH_ENTERPRISES) --demo-by-quarter
	SASAC_DEMO=1 $(BIN)/python -m benchmarks.bench_portal

clean:
	rm -rf data/work data/marts/warehouse.duckdb data/marts/report data/marts/receipts data/marts/data_docs \
		data/marts/target_tracking.xlsx dbt_project/target
