# `make serve` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint schema clean

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

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
