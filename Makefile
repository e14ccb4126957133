# Two commands set up a fresh machine (see README "Quick start"):
#   make demo   - the sandbox demo, on the embedded SQLite store
#   make test   - the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

venv: $(STAMP)

# Until `bridge demo` lands (another branch), the demo validates the shipped example config.
demo: $(STAMP)
	$(BIN)/bridge check --config config.example.yaml

test: $(STAMP)
	$(BIN)/ruff check bridge tests $(wildcard bench)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check bridge tests $(wildcard bench)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
