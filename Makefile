# Two commands: `make demo` shows the provider working; `make test` runs every check.
# Each builds its own virtual environment from the pinned constraints.

PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
# The latest patch of every older Airflow minor we support (the floor is 3.1).
COMPAT_VERSIONS ?= 3.1.8 3.2.2
VENV ?= .venv
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' airflow_provider_stripe/__init__.py)
WHEEL := build/dist/airflow_provider_stripe-$(VERSION)-py3-none-any.whl

.PHONY: bench browser demo test test-deployment test-compat lint venv wheel clean
.PRECIOUS: .venv-airflow-%/.installed

$(VENV)/.installed-$(AIRFLOW_VERSION): pyproject.toml constraints/constraints-airflow-$(AIRFLOW_VERSION).txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints/constraints-airflow-$(AIRFLOW_VERSION).txt -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(VENV)/.installed-$(AIRFLOW_VERSION)

## wheel: the provider as users install it (built afresh each time: a deleted module must not linger).
wheel: venv
	rm -rf build/dist build/lib
	$(VENV)/bin/python -m pip wheel --quiet --no-deps -w build/dist .

# An older Airflow from its pinned constraints, with the test extras (and the provider, replaced
# in test-compat-% by a plain install of the new wheel).
.venv-airflow-%/.installed: constraints/constraints-airflow-%.txt pyproject.toml | wheel
	$(PYTHON) -m venv .venv-airflow-$*
	.venv-airflow-$*/bin/python -m pip install --quiet -c $< "apache-airflow==$*" "$(WHEEL)[dev]"
	touch $@

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## browser: Debian's Chromium and ChromeDriver for the connection-form test (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

## test: ruff, mypy and the whole pytest suite on Airflow $(AIRFLOW_VERSION), the deployment test, then
## the suite again on every older supported Airflow, against the installed wheel.
test: lint browser
	$(VENV)/bin/python -m pytest
	$(MAKE) test-deployment
	$(MAKE) test-compat
	$(MAKE) test-celery

## test-deployment: the example DAGs triggered through the REST API of a real scheduler, API server and dag processor.
test-deployment: venv
	$(VENV)/bin/python -m pytest -m deployment tests/test_deployment.py

## test-celery: the backfill example under the CeleryExecutor with two Celery workers, a Redis broker and a
## PostgreSQL metadata database, all on 127.0.0.1: Debian's redis-server and postgresql (installed here
## when missing) and the `celery` extra in $(VENV), from the pinned constraints.
.PHONY: test-celery
test-celery: venv $(VENV)/.installed-celery-$(AIRFLOW_VERSION)
	@command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql; }
	$(VENV)/bin/python -m pytest -m celery -rP tests/test_celery.py

# Removed with the other markers whenever `venv` reinstalls, so it is reinstalled after it.
$(VENV)/.installed-celery-$(AIRFLOW_VERSION): $(VENV)/.installed-$(AIRFLOW_VERSION)
	$(VENV)/bin/python -m pip install --quiet -c constraints/constraints-airflow-$(AIRFLOW_VERSION).txt -e ".[celery]"
	touch $@

## test-compat: for each of $(COMPAT_VERSIONS): the wheel installed next to that Airflow (its version
## untouched), then the suite from a copy of tests/ and example_dags/ without the source tree, so
## every import of the provider is the installed wheel's.
test-compat: $(addprefix test-compat-,$(COMPAT_VERSIONS))

test-compat-%: .venv-airflow-%/.installed browser wheel
	# As a user would: a plain `pip install` of the wheel, no constraints, next to that Airflow.
	.venv-airflow-$*/bin/python -m pip uninstall --quiet --yes airflow-provider-stripe
	.venv-airflow-$*/bin/python -m pip install --quiet $(WHEEL)
	.venv-airflow-$*/bin/python -m pip check
	.venv-airflow-$*/bin/python -c "import airflow, sys; sys.exit(0 if airflow.__version__ == '$*' else 'pip changed Airflow $* to ' + airflow.__version__)"
	rm -rf build/compat-$* && mkdir -p build/compat-$*
	cp -r tests example_dags scripts docs pyproject.toml build/compat-$*/
	cd build/compat-$* && ../../.venv-airflow-$*/bin/python -c "import airflow_provider_stripe as p; assert '/site-packages/' in p.__file__, p.__file__"
	cd build/compat-$* && ../../.venv-airflow-$*/bin/python -m pytest -p no:cacheprovider

clean:
	rm -rf $(VENV) .venv-airflow-* build .pytest_cache .mypy_cache .ruff_cache

## demo: run the nightly export example against a local sandbox (or Stripe test mode via STRIPE_API_KEY).
demo: venv
	$(VENV)/bin/python scripts/demo.py

## bench: print the benchmark table (see BENCHMARKS.md), in .venv-bench (stripe-python for the comparison).
.venv-bench/.installed: pyproject.toml constraints/constraints-airflow-$(AIRFLOW_VERSION).txt benchmarks/requirements.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet -c constraints/constraints-airflow-$(AIRFLOW_VERSION).txt -e . -r benchmarks/requirements.txt
	touch $@

bench: .venv-bench/.installed
	.venv-bench/bin/python benchmarks/run.py
