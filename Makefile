# Two commands for a newcomer: `make demo` and `make test`. Needs only Python 3.11 and make:
# uv is installed with pip when missing, and .venv is built from uv.lock with this machine's Python.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
export MCA_DATA_DIR ?= $(CURDIR)/data

.PHONY: setup demo test lint bench release-check clean

$(BIN)/python: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked --python $(PYTHON)
	@touch $(BIN)/python

setup: $(BIN)/python

demo: setup
	$(BIN)/mca demo

test: setup
	$(BIN)/pytest -q --durations=25

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The release gate: lint, types, the suite, schemathesis, a short bench pass -> data/release-check/*.md|json
release-check: setup
	$(BIN)/python bench/release_check.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
