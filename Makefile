# recs: make help lists what you can run. The first two targets are the README's two commands.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
LAYERS := build/layers/.built
PORT ?= 8000
EVENTS ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help demo test lint typecheck unit layers synth deploy bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

demo: $(INSTALLED) ## ingest sample events (or EVENTS=file.csv), run the batch, serve the API on PORT (8000)
	$(PY) -m recs_local.cli demo --port $(PORT) $(if $(EVENTS),--events $(EVENTS))

test: $(INSTALLED) $(LAYERS) lint typecheck ## lint, type-check and run every test
	$(PY) -m pytest

unit: $(INSTALLED) ## run the tests that need neither the layers nor the local server
	$(PY) -m pytest tests/unit

lint: $(INSTALLED) ## ruff
	$(VENV)/bin/ruff check .

typecheck: $(INSTALLED) ## mypy on the package, the handlers and the CDK app
	$(VENV)/bin/mypy layers/core/recs recs_local functions infra

layers: $(LAYERS) ## build the Lambda layers (pip --platform, no Docker) into build/layers

synth: $(INSTALLED) $(LAYERS) node_modules/.installed ## synthesise the CloudFormation template (offline)
	npx cdk synth -q

deploy: $(INSTALLED) $(LAYERS) node_modules/.installed ## deploy into the current AWS account
	npx cdk deploy

bench: $(INSTALLED) ## run the benchmarks (installs implicit, the quality competitor) and print their numbers
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/run_all.py

clean: ## remove the virtualenv, build output and caches
	rm -rf $(VENV) build cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(LAYERS): $(INSTALLED) layers/build_layers.py $(shell find layers/core/recs -name '*.py' 2>/dev/null)
	$(PY) layers/build_layers.py --out build/layers
	touch $@

node_modules/.installed: package.json
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	touch $@
