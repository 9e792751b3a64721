# Daiyun: `make demo` runs the whole platform on this machine; `make test` runs the suite.
# Everything lives in .venv, created on first use from the python3 on PATH (3.11 or newer).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

.DEFAULT_GOAL := help
.PHONY: help demo serve test lint check-migrations messages clean

help:
	@echo "make demo              create .venv, seed the demo agency, serve on http://$(HOST):$(PORT)"
	@echo "make test              run the test suite (pytest -n auto)"
	@echo "make lint              ruff check, ruff format --check, mypy, the import contracts"
	@echo "make check-migrations  the migrations match the models (on a fresh SQLite database)"
	@echo "make messages          extract the portal's messages into its catalogs, then translate"
	@echo "make clean             remove caches, build output and ./var (keeps .venv)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Daiyun needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) \
		|| { echo "'$(PYTHON) -m venv' failed: install the venv module (Debian: apt-get install python3-venv)"; exit 1; }

# Stamps: reinstall only when pyproject.toml changes (or the venv is new).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.installed

# Webhook URLs given to the sandbox marketplaces point at the port the demo serves on.
demo: export DAIYUN_BASE_URL ?= http://127.0.0.1:$(PORT)
demo: $(VENV)/.installed
	$(BIN)/daiyun demo
	$(BIN)/daiyun serve --sandbox --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(BIN)/daiyun serve --host $(HOST) --port $(PORT)

# Whole modules go to a worker, in the order collected (the minute-long tests first), each
# worker taking the next module when it is done: no worker is left holding the long ones.
test: $(VENV)/.installed-dev
	$(BIN)/pytest -n auto --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy daiyun
	$(BIN)/lint-imports --no-cache

# The portal's translatable messages -> daiyun/portal/locale/*/LC_MESSAGES/messages.po, sorted by
# message so the catalog comes out the same on every machine; a test fails while any of them has
# no translation.
messages: $(VENV)/.installed-dev
	@mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg -k _ --no-location --sort-output -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d daiyun/portal/locale -D messages \
		--no-fuzzy-matching --ignore-obsolete

# `alembic check` compares the models with a database at head: build one from scratch.
check-migrations: $(VENV)/.installed-dev
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT \
		&& export DAIYUN_DATABASE_URL="sqlite:///$$tmp/check.sqlite" \
		&& unset DAIYUN_MIGRATION_DATABASE_URL \
		&& $(BIN)/daiyun migrate \
		&& $(BIN)/alembic check

clean:
	rm -rf var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
