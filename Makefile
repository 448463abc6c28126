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
	$(BIN)/python -m bench.realtime
	$(BIN)/python -m bench.drive
	$(BIN)/python -m bench.planning
	$(BIN)/python -m bench.search

docs: $(STAMP) ## rewrite the settings table in docs/configuration.md from the code
	$(BIN)/python -c "import re, pathlib; from api.settings import settings_table as t; p = pathlib.Path('docs/configuration.md'); s = p.read_text(); a = s.index('| setting |'); b = s.index('\\n## Example'); p.write_text(s[:a] + t() + s[b:])"

schema: $(STAMP) ## rewrite schema/schema.graphql from the code
	$(BIN)/python -m schema.export > schema/schema.graphql

.PHONY: help install serve lint test bench docs schema
