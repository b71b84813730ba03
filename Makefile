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

# make test: every test (what CI runs), on TEST_WORKERS processes (pytest-xdist; loadfile
# keeps each file, and its module fixtures, on one worker). make test-fast: the unit and
# integration tests that are not slow (tests/README.md), in one process.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/ruff check shortcutlab tests benchmarks scripts
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -m 'not slow and not e2e'

lint: setup
	$(BIN)/ruff check shortcutlab tests benchmarks scripts
	$(BIN)/ruff format --check shortcutlab tests benchmarks scripts
