# Two commands on a fresh machine: `make demo` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)
export MLFLOW_DISABLE_TELEMETRY := true
PYTEST_ARGS ?=

CHAOS_ARGS ?=

.PHONY: chaos demo test test-daily test-bench-daily test-drift-loop test-console test-schedules lint typecheck check-java bench clean install docs cluster-demo

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "genuine needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The Airflow DAG test in a virtualenv of its own: only the `airflow` extra of pyproject.toml (Airflow, its
# Spark provider, pytest), not genuine's own dependencies (docs/scheduling.md: time and why apart).
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
$(AIRFLOW_STAMP): pyproject.toml
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['airflow'], sep='\n')" > $(AIRFLOW_VENV)/requirements.txt
	$(AIRFLOW_VENV)/bin/pip install --quiet -r $(AIRFLOW_VENV)/requirements.txt
	@touch $(AIRFLOW_STAMP)

# -p no:tests.enforcement.fixtures: that plugin of tests/conftest.py imports the jobs (MLflow, Spark), which
# the Airflow environment does not have; the DAG test needs none of its fixtures.
test-schedules: $(AIRFLOW_STAMP)
	GENUINE_REQUIRE_AIRFLOW=1 AIRFLOW_HOME=$(abspath $(AIRFLOW_VENV))/home $(AIRFLOW_VENV)/bin/python -m pytest -q -p no:cacheprovider -p no:tests.enforcement.fixtures -rs tests/schedules/test_schedules.py -k dag

check-java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || \
		{ echo "genuine needs Java 17+ for Spark: install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME."; exit 3; }

# `make demo DEMO_ARGS="--set lake.engine=delta-rs"` runs it on the delta-rs engine (default: delta-spark).
demo: $(STAMP) check-java
	$(BIN)/genuine demo $(DEMO_ARGS)

test: $(STAMP) check-java
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A Spark standalone cluster on this machine (1 master, 2 workers of 1 core), the pipeline submitted to it,
# the same jobs in local[2], both lakes compared row for row; the cluster is stopped even on failure.
cluster-demo: $(STAMP) check-java
	bash devtools/cluster_demo.sh

# `genuine daily` and backfill end to end (tests/jobs/test_daily.py, marker `daily`): whole days through every
# job, so apart from `test`; CI runs it as a step of its own.
test-daily: $(STAMP) check-java
	$(BIN)/python -m pytest -m daily tests/jobs/test_daily.py $(PYTEST_ARGS)

# `genuine bench daily` on a tiny platform (tests/devtools/bench/test_daily_bench.py, marker `daily`): ~4.5 min;
# CI runs it last, only while its 90-minute budget holds it (.ci/run, docs/decisions.md).
test-bench-daily: $(STAMP) check-java
	$(BIN)/python -m pytest -m daily tests/devtools/bench/test_daily_bench.py $(PYTEST_ARGS)

# The drift loop on a shifting simulated platform (tests/devtools/bench/test_drift_loop.py, marker
# `drift_loop`): train, score, monitor, moderators, retrain, score again; ~14 min, so apart from `test`.
test-drift-loop: $(STAMP) check-java
	$(BIN)/python -m pytest -m drift_loop tests/devtools/bench/test_drift_loop.py $(PYTEST_ARGS)

# Kill `genuine daily` with SIGKILL at random moments, re-run the day, check the lake (devtools/chaos.py;
# CHAOS_ARGS="--trials 20 --accounts 300 --seed 7"). Not part of `test`: each trial is two JVM starts.
chaos: $(STAMP) check-java
	$(BIN)/python -m genuine.devtools.chaos $(CHAOS_ARGS)

# The console's tests alone (route tests, decisions, the browser flow with /usr/bin/chromium); part of `test`.
test-console: $(STAMP) check-java
	$(BIN)/python -m pytest tests/console $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy -p genuine

docs: $(STAMP)
	$(BIN)/genuine features --docs

bench: $(STAMP) check-java
	$(BIN)/genuine bench simulate
	$(BIN)/genuine bench ingest
	$(BIN)/genuine bench features
	$(BIN)/genuine bench score
	@# needs the labelled corpus (text_detector.corpus); without it this one says so and the rest still ran
	-$(BIN)/genuine bench text-detector

clean:
	rm -rf lakehouse mlflow.db mlruns out reports spark-warehouse .genuine test-artifacts
