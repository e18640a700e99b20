# Two commands: `make demo` shows the provider working; `make test` runs every check.
# Each builds its own virtual environment from the pinned constraints.

PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
# The lowest Airflow we support and test.
AIRFLOW_FLOOR ?= 3.3.0
VENV ?= .venv
FLOOR_VENV ?= .venv-floor

.PHONY: bench browser demo test test-deployment test-floor lint venv floor-venv clean

$(VENV)/.installed-$(AIRFLOW_VERSION): pyproject.toml constraints/constraints-airflow-$(AIRFLOW_VERSION).txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints/constraints-airflow-$(AIRFLOW_VERSION).txt -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

$(FLOOR_VENV)/.installed-$(AIRFLOW_FLOOR): pyproject.toml constraints/constraints-airflow-$(AIRFLOW_FLOOR).txt
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet -c constraints/constraints-airflow-$(AIRFLOW_FLOOR).txt -e ".[dev]"
	rm -f $(FLOOR_VENV)/.installed-*
	touch $@

venv: $(VENV)/.installed-$(AIRFLOW_VERSION)
floor-venv: $(FLOOR_VENV)/.installed-$(AIRFLOW_FLOOR)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## browser: Debian's Chromium and ChromeDriver for the connection-form test (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

## test: ruff, mypy and the whole pytest suite on Airflow $(AIRFLOW_VERSION), the deployment test, then the suite on the floor.
test: lint browser
	$(VENV)/bin/python -m pytest
	$(MAKE) test-deployment
	$(MAKE) test-floor

## test-deployment: the example DAGs triggered through the REST API of a real scheduler, API server and dag processor.
test-deployment: venv
	$(VENV)/bin/python -m pytest -m deployment tests/test_deployment.py

## test-floor: the pytest suite on the lowest supported Airflow.
test-floor: floor-venv browser
	$(FLOOR_VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .pytest_cache .mypy_cache .ruff_cache

## demo: run the nightly export example against a local sandbox (or Stripe test mode via STRIPE_API_KEY).
demo: venv
	$(VENV)/bin/python scripts/demo.py

## bench: print the benchmark table (see BENCHMARKS.md); stripe-python is installed only here, in .venv-bench.
.venv-bench/.installed: pyproject.toml constraints/constraints-airflow-$(AIRFLOW_VERSION).txt benchmarks/requirements.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet -c constraints/constraints-airflow-$(AIRFLOW_VERSION).txt -e . -r benchmarks/requirements.txt
	touch $@

bench: .venv-bench/.installed
	.venv-bench/bin/python benchmarks/run.py
