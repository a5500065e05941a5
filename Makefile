# `make serve` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint schema clean mutate bench

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

serve: $(INSTALLED)  ## the embedded default: SQLite, in-process worker, demo data, GraphiQL
	$(BIN)/roundtable serve --host $(HOST) --port $(PORT)

test: $(INSTALLED)  ## lint, types, then the whole suite (SQLite, and PostgreSQL/Redis when reachable)
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/mypy
	$(BIN)/pytest

schema: $(INSTALLED)  ## rewrite schema.graphql after an API change
	$(BIN)/python -m app.schema.export schema.graphql

bench: $(INSTALLED)  ## issue 15's figures against PostgreSQL, wrk and the floor (not in CI; BENCH_ARGS=--before DIR)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

mutate: $(INSTALLED)  ## mutation testing of the rule modules (not in CI): score per module, survivors
	mkdir -p var
	$(BIN)/mutmut run --max-children 2 > var/mutmut.log 2>&1 || (tail -c 3000 var/mutmut.log; exit 1)
	$(BIN)/python tools/mutation_report.py

clean:
	rm -rf $(VENV) var mutants .pytest_cache .mypy_cache .ruff_cache
