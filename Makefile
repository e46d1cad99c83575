# Two commands: `make run` (set up and serve the demo) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# The suite runs in two processes (pytest-xdist; the machines CI runs on have two cores); PYTEST_WORKERS=0 runs it in
# one. `loadgroup` keeps the tests that start Celery workers on the shared broker together (tests/conftest.py).
PYTEST_WORKERS ?= 2
PYTEST_XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup)
# Management commands refuse to start without a SECRET_KEY unless DEBUG is on.
DEV_ENV := DEBUG=$${DEBUG:-true}

.PHONY: run test lint bench browser clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME_STAMP)

run: $(RUNTIME_STAMP)
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(DEV_ENV) $(BIN)/python manage.py demo
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

# Later browser tests drive Debian's Chromium; install it once when we may (root), else leave it to the admin.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else echo "chromium missing and not root: browser tests will not run"; fi; \
	fi

# pytest's exit code 5 (no tests collected) fails like any other.
test: $(DEV_STAMP) browser
	@rc=0; $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; exit $$rc

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(DEV_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	$(DEV_ENV) $(BIN)/python manage.py check
	@# Medium and high findings fail; numbers/__init__.py's exec is the reviewed shim loading the stdlib `numbers`.
	$(BIN)/bandit -q -r accounts billing numbers tickets config -ll -x numbers/__init__.py
	@# lint-imports: the house's layers (pyproject.toml [tool.importlinter]), with the numbers app findable by grimp.
	$(BIN)/python -m config.import_contracts

# Every benchmark in its short mode, one table of ratios (bench/all.py); BENCH_ARGS=--readme rewrites the README's.
BENCH_ARGS ?=
bench: $(DEV_STAMP)
	$(BIN)/python bench/all.py $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
