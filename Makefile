# The two commands a new user needs: `make demo` and `make test`. Both build .venv from the lock file first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck unit bench lock clean wheel-smoke

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.lock 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(PIP) --no-deps --no-build-isolation -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workspace-monitor demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/ruff format --check monitor tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# PYTEST_ARGS="-n 4 --dist loadfile" spreads the files over four processes (pytest-xdist), as .ci/run does.
unit: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Every benchmark against the simulator and the Slack stand-in, quick sizes (~10 min on 2 cores); writes
# bench/RESULTS.md and bench/scaling.png. `$(BIN)/python bench/suite.py` alone runs each at its defaults.
bench: $(STAMP)
	$(BIN)/python bench/suite.py --quick

# The wheel as an operator installs it: built from a copy of the checkout, installed alone into a fresh venv
# (dependencies from PyPI), then --version, init, check and demo run from it (about a minute: half of it the
# demo, a quarter pip). CI runs it beside `make test`.
wheel-smoke: $(STAMP)
	PYTHON=$(BIN)/python .ci/wheel-smoke

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/pip-compile -q --allow-unsafe --extra dev --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
