# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit bench bench-quick clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# Byte-compile now: with PYTHONDONTWRITEBYTECODE set, every cold `gvcs` would recompile its modules.
	$(BIN)/python -m compileall -q narrative_vcs cli api
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/gvcs demo demo-story --force

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Benchmarks (bench/README.md): about 10 minutes; `make bench BENCH_QUICK=1` or `make bench-quick`: under a minute.
bench: $(STAMP)
	$(BIN)/python -m compileall -q narrative_vcs cli api
	BENCH_QUICK=$(BENCH_QUICK) $(BIN)/python -m bench.run_all

bench-quick: $(STAMP)
	$(BIN)/python -m compileall -q narrative_vcs cli api
	BENCH_QUICK=1 $(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) demo-story bench/results .pytest_cache .mypy_cache .ruff_cache .hypothesis
