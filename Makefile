# The two commands a user needs: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve-demo test test-slow lint typecheck pytest clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check msgbridge tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy msgbridge

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The slow-marked tests left out of `make test` (e.g. ten kill -9 runs of a 10,000-recipient campaign).
test-slow: $(STAMP)
	$(BIN)/pytest -m slow -s

demo: $(STAMP)
	$(BIN)/python -m msgbridge.demo

# The same campaign through `msgbridge serve` and its HTTP API.
serve-demo: $(STAMP)
	$(BIN)/python -m msgbridge.demo --serve

clean:
	rm -rf $(VENV) msgbridge.db demo-out
