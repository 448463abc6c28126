# Cove's tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

LOCK := requirements/dev.lock
REDIS_DIR ?= $(CURDIR)/.redis
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Installs come from the committed lock (exact versions and hashes), so the suite that passed
# when the lock was made passes on a fresh machine later; `make lock` refreshes it.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) ## install Cove and its dev tools into .venv, from the lock

lock: $(STAMP) ## update requirements/*.lock to pyproject.toml, keeping every pin that still fits
	$(BIN)/uv pip compile --quiet pyproject.toml requirements/build.in --extra dev $(LOCK_FLAGS) $(UPGRADE) -o $(LOCK)
	$(BIN)/uv pip compile --quiet pyproject.toml requirements/build.in -c $(LOCK) $(LOCK_FLAGS) $(UPGRADE) -o requirements/runtime.lock

lock-upgrade: ## re-resolve the locks to the newest versions pyproject.toml allows
	$(MAKE) lock UPGRADE=--upgrade

serve: $(STAMP) ## serve Cove on the embedded defaults (./.cove, http://127.0.0.1:8000/graphql)
	$(BIN)/cove serve $(ARGS)

lint: $(STAMP) ## ruff, mypy --strict and the layer contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint ## lint, then the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the in-process tier only (no server, process or browser): under a minute
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-scylla: $(STAMP) ## the store contract, server suites and cluster fault test on Cassandra nodes (Java 17, Maven)
	COVE_TEST_STORE=scylla $(BIN)/pytest tests/persistence tests/api tests/realtime \
		tests/integrations/test_cassandra_cluster.py $(PYTEST_ARGS)

cassandra-up: $(STAMP) ## run an Apache Cassandra node from Maven Central on 127.0.0.1:9042 (idempotent)
	$(BIN)/python -m tools.cassandra up

cassandra-down: $(STAMP) ## stop the node cassandra-up started (idempotent)
	$(BIN)/python -m tools.cassandra down

# CLUSTER_ARGS="--addresses 127.0.0.4,127.0.0.5,127.0.0.6 --port 9142" moves the cluster.
cassandra-cluster-up: $(STAMP) ## three Cassandra nodes on 127.0.0.1-3:9042, back when all are UN (idempotent)
	$(BIN)/python -m tools.cassandra cluster-up $(CLUSTER_ARGS)

cassandra-cluster-down: $(STAMP) ## stop the three nodes cassandra-cluster-up started (idempotent)
	$(BIN)/python -m tools.cassandra cluster-down $(CLUSTER_ARGS)

search-node-up: $(STAMP) ## run an OpenSearch node from Maven Central on 127.0.0.1:9200 (idempotent)
	$(BIN)/python tools/search_node.py up

search-node-down: $(STAMP) ## stop the node search-node-up started (idempotent)
	$(BIN)/python tools/search_node.py down

redis-up: ## install redis-server from Debian's packages if missing; start it on 127.0.0.1:6379
	@if ! command -v redis-server >/dev/null; then \
		echo "installing redis-server from Debian's packages"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; \
	fi
	@if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then echo "redis answers on 127.0.0.1:6379"; \
	else mkdir -p $(REDIS_DIR) && redis-server --daemonize yes --bind 127.0.0.1 --port 6379 \
		--save "" --appendonly no --dir $(REDIS_DIR) --logfile $(REDIS_DIR)/redis.log \
		&& for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.3; done \
		&& echo "redis started on 127.0.0.1:6379"; fi

# GraphiQL ships inside the package (installations without internet are common): the built
# files of the npm packages pinned, with integrity hashes, in tools/graphiql/package-lock.json
# are copied to api/graphiql_assets/ and committed. Source-map comments are dropped, so that a
# browser's developer tools ask for no file that is not shipped.
GRAPHIQL_NPM := tools/graphiql
GRAPHIQL_OUT := api/graphiql_assets
graphiql-assets: ## re-create api/graphiql_assets/ from the npm packages pinned in tools/graphiql
	cd $(GRAPHIQL_NPM) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@set -e; m=$(GRAPHIQL_NPM)/node_modules; \
	for f in graphiql/graphiql.min.js graphiql/graphiql.min.css react/umd/react.production.min.js \
		react-dom/umd/react-dom.production.min.js; do \
		sed -e '/sourceMappingURL=/d' $$m/$$f > $(GRAPHIQL_OUT)/$$(basename $$f); done; \
	for p in graphiql react react-dom; do \
		printf '%s %s\n\n' $$p $$(node -p "require('./$$m/'+'$$p/package.json').version"); \
		cat $$m/$$p/LICENSE; printf '\n'; done > $(GRAPHIQL_OUT)/THIRD-PARTY-LICENSES.txt
	rm -rf $(GRAPHIQL_NPM)/node_modules
	@echo "api/graphiql_assets/ rebuilt; review and commit it"

browser-up: ## install Debian's chromium if missing, for the GraphiQL browser test
	@if [ -x /usr/bin/chromium ]; then echo "chromium present: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else echo "installing chromium from Debian's packages"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; fi

bench: $(STAMP) ## run the benchmarks in bench/ (figures are ratios measured in the same run)
	$(BIN)/python -m bench.accounts
	$(BIN)/python -m bench.two_factor
	$(BIN)/python -m bench.messages
	$(BIN)/python -m bench.query_cost
	$(BIN)/python -m bench.realtime
	$(BIN)/python -m bench.drive
	$(BIN)/python -m bench.planning
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.search_hidden
	$(BIN)/python -m bench.backup
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.apps
	$(BIN)/python -m bench.onlyoffice
	$(BIN)/python -m bench.ics_import
	$(BIN)/python -m bench.export

docs: $(STAMP) ## rewrite the settings table in docs/configuration.md from the code
	$(BIN)/python -c "import re, pathlib; from api.settings import settings_table as t; p = pathlib.Path('docs/configuration.md'); s = p.read_text(); a = s.index('| setting |'); b = s.index('\\n## Example'); p.write_text(s[:a] + t() + s[b:])"

schema: $(STAMP) ## rewrite schema/schema.graphql from the code
	$(BIN)/python -m schema.export > schema/schema.graphql

.PHONY: help install lock lock-upgrade serve lint test test-fast bench docs schema redis-up browser-up graphiql-assets cassandra-up cassandra-down \
	cassandra-cluster-up cassandra-cluster-down search-node-up search-node-down
