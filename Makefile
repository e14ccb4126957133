# Two commands set up a fresh machine (see README "Quick start"):
#   make demo   - the sandbox demo, on the embedded SQLite store
#   make test   - the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint venv dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

venv: $(STAMP)

# ServiceNow and Jira sandboxes on loopback, a support story synced by bridge (README "Quick start").
demo: $(STAMP)
	$(BIN)/bridge demo

test: $(STAMP)
	$(BIN)/ruff check bridge tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check bridge tests $(wildcard bench)
	$(BIN)/mypy

# The sdist and the wheel in dist/, as docs/operations.md installs them (section 1).
dist: $(STAMP)
	$(BIN)/python -m build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist
