# Fieldwise: the single entry point. `make run` and `make test` build their own .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEMO_CUSTOMERS ?= 1000
HOST   ?= 127.0.0.1:8000

.PHONY: run test lint format bench migrate clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# Embedded default: SQLite in var/, Celery tasks in-process, demo data loaded once.
run: export DEBUG ?= 1
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty --customers $(DEMO_CUSTOMERS)
	$(PY) manage.py run_nightly
	$(PY) manage.py runserver $(HOST)

migrate: $(VENV)/.runtime
	DEBUG=1 $(PY) manage.py migrate --noinput

# Uses DATABASE_URL / REDIS_URL when set (CI: PostgreSQL and Redis), SQLite otherwise.
test: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.dev
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis
