# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench clean postgres deploy-tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mendflow demo

# The store tests start a real PostgreSQL server; install Debian's package when it is missing (as root).
postgres:
	@bash .ci/install-postgres

# tests/deploy validate deploy/compose with `docker-compose config`; install Debian's package when missing.
deploy-tools:
	@bash .ci/install-docker-compose

test: $(STAMP) postgres deploy-tools
	$(BIN)/python -m pytest -q -n 2 --durations=20

test-fast: $(STAMP) postgres deploy-tools
	$(BIN)/python -m pytest -q -n 2 -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mendflow build *.egg-info
