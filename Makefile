# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Neo4j 5.26 Community on loopback (scripts/neo4j; README, "Neo4j"). `make unit` starts it before pytest and
# exports its URI as GVCS_TEST_NEO4J_URI. Under CI=true it must start and is stopped after the tests;
# locally a failure to start only skips the Neo4j tests, and the server stays up (`scripts/neo4j stop`).
NEO4J  := scripts/neo4j
# Redis from Debian's redis-server on loopback (scripts/redis; README, "Redis"): the same rule, exported to the
# tests as GVCS_TEST_REDIS_URL (the Celery workers' and pub/sub tests, tests/tasks/).
REDIS  := scripts/redis
IS_CI  := $(filter true TRUE True 1 yes,$(CI))
# GraphiQL's browser files for the explorer at /graphql (api/graphql/explorer.py) and cytoscape.js for the
# story views at /view/ (api/views/), pinned by api/graphql/graphiql/package-lock.json: `npm ci` installs
# them into its node_modules (gitignored).
# Without npm the explorer loads them from a CDN and the browser test skips; under CI=true npm is needed.
GRAPHIQL := api/graphql/graphiql
ASSETS   := $(GRAPHIQL)/node_modules/.package-lock.json

.PHONY: demo test lint typecheck unit services bench bench-quick clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# Byte-compile now: with PYTHONDONTWRITEBYTECODE set, every cold `gvcs` would recompile its modules.
	$(BIN)/python -m compileall -q narrative_vcs cli api
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP) $(ASSETS)
	$(BIN)/gvcs demo demo-story --force

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

$(ASSETS): $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "npm ci --prefix $(GRAPHIQL)"; \
	  npm ci --prefix $(GRAPHIQL) --ignore-scripts --no-audit --no-fund --loglevel=error; \
	elif [ -n "$(IS_CI)" ]; then echo "make: npm not found, and CI=$(CI) needs GraphiQL's files" >&2; exit 1; \
	else echo "make: warning: npm not found; the GraphQL explorer will load GraphiQL from a CDN" >&2; fi

services:
	@$(NEO4J) start || { \
	  if [ -n "$(IS_CI)" ]; then echo "make: Neo4j did not start, and CI=$(CI) needs it" >&2; exit 1; fi; \
	  echo "make: warning: Neo4j did not start; the Neo4j tests will be skipped (retry: $(NEO4J) start)" >&2; }
	@$(REDIS) start || { \
	  if [ -n "$(IS_CI)" ]; then echo "make: Redis did not start, and CI=$(CI) needs it" >&2; exit 1; fi; \
	  echo "make: warning: Redis did not start; the Redis tests will be skipped (retry: $(REDIS) start)" >&2; }

unit: $(STAMP) $(ASSETS) services
	@if $(NEO4J) status >/dev/null; then export GVCS_TEST_NEO4J_URI="$$($(NEO4J) url)"; fi; \
	if $(REDIS) status >/dev/null; then export GVCS_TEST_REDIS_URL="$$($(REDIS) url)"; fi; \
	echo "GVCS_TEST_NEO4J_URI=$${GVCS_TEST_NEO4J_URI-} GVCS_TEST_REDIS_URL=$${GVCS_TEST_REDIS_URL-} $(BIN)/pytest"; \
	status=0; $(BIN)/pytest || status=$$?; \
	$(if $(IS_CI),$(NEO4J) stop || true; $(REDIS) stop || true;) \
	exit $$status

# Benchmarks (bench/README.md): about 10 minutes; `make bench BENCH_QUICK=1` or `make bench-quick`: under a minute.
bench: $(STAMP)
	$(BIN)/python -m compileall -q narrative_vcs cli api
	BENCH_QUICK=$(BENCH_QUICK) $(BIN)/python -m bench.run_all

bench-quick: $(STAMP)
	$(BIN)/python -m compileall -q narrative_vcs cli api
	BENCH_QUICK=1 $(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) demo-story bench/results .pytest_cache .mypy_cache .ruff_cache .hypothesis $(GRAPHIQL)/node_modules
