# Cove's tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## install Cove and its dev tools into .venv

serve: $(STAMP) ## serve Cove on the embedded defaults (./.cove, http://127.0.0.1:8000/graphql)
	$(BIN)/cove serve $(ARGS)

lint: $(STAMP) ## ruff, mypy --strict and the layer contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint ## lint, then the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP) ## run the benchmarks in bench/ (figures are ratios measured in the same run)
	$(BIN)/python -m bench.accounts
	$(BIN)/python -m bench.messages

schema: $(STAMP) ## rewrite schema/schema.graphql from the code
	$(BIN)/python -m schema.export > schema/schema.graphql

.PHONY: help install serve lint test bench schema
