# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/shortcutlab: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(BIN)/shortcutlab

.PHONY: setup demo demo-quick test test-fast lint
setup: $(BIN)/shortcutlab

demo: setup
	$(BIN)/shortcutlab demo --out runs/demo

demo-quick: setup
	$(BIN)/shortcutlab demo --quick --out runs/demo-quick

test: setup
	$(BIN)/ruff check shortcutlab tests benchmarks scripts
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m 'not slow'

lint: setup
	$(BIN)/ruff check shortcutlab tests benchmarks scripts
	$(BIN)/ruff format --check shortcutlab tests benchmarks scripts
