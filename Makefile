# qkdnet: `make demo` tells the story (then runs the key network of one link, then of five nodes, on loopback), `make test` checks everything, `make bench` measures speed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-reference browser docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qkdnet demo
	$(BIN)/qkdnet demo --system
	$(BIN)/qkdnet demo --network

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

typecheck: $(STAMP)
	$(BIN)/mypy

# The HTML report is tested in headless Chromium: Debian's package, installed here when missing and apt can.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      || echo "apt-get could not install chromium: the report's browser test will be skipped"; \
	  else echo "no chromium and no way to install it: the report's browser test will be skipped"; fi; }

pytest: $(STAMP) browser
	$(BIN)/python -m pytest -n auto -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/table.py
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/postprocess_pipeline.py
	$(BIN)/python benchmarks/privacy_amplification.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/reconciliation_cascade.py
	$(BIN)/python benchmarks/reconciliation_ldpc.py
	$(BIN)/python benchmarks/key_run_reconcilers.py
	$(BIN)/python benchmarks/reference_sequence.py
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/network_chain.py
	$(BIN)/python benchmarks/kms_load.py
	$(BIN)/python benchmarks/node_loopback.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/coincidence.py
	$(BIN)/python benchmarks/offline_chain.py
	$(BIN)/python benchmarks/network_relay.py

# The API reference, from the docstrings: nitpicky, and any warning (a reference to nothing) fails the build.
docs: $(STAMP)
	$(BIN)/sphinx-build -E -q -n -W --keep-going -b html docs docs/_build/html
	@echo "API reference: docs/_build/html/index.html"

# SeQUeNCe's BB84 beside qkdnet, in a throwaway venv outside the repo (never in qkdnet's dependencies).
bench-reference: $(STAMP)
	$(BIN)/python benchmarks/reference_sequence.py
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache docs/_build
