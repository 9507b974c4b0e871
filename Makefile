# recs: make help lists what you can run. The first two targets are the README's two commands.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# The uv that installs the environment is the one the dev extra pins (so the lock keeps it).
UV_VERSION := $(shell sed -n 's/^ *"uv==\([0-9.]*\)".*/\1/p' pyproject.toml)
# uv uses the venv's interpreter, never one it would download.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
INSTALLED := $(VENV)/.installed
LAYERS := build/layers/.built
KERNELS := layers/core/recs/algorithms/kernels/_kernels.$(shell uname -m).so
PORT ?= 8000
EVENTS ?=
ENGINE ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help demo test lint typecheck unit layers kernels synth deploy bench lock clean chromium java

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

demo: $(INSTALLED) $(KERNELS) $(if $(filter spark,$(ENGINE)),java) ## ingest sample events (or EVENTS=file.csv), run the batch (ENGINE=spark: on Spark), serve the API on PORT (8000)
	$(PY) -m recs_local.cli demo --port $(PORT) $(if $(EVENTS),--events $(EVENTS)) $(if $(ENGINE),--engine $(ENGINE))

test: $(INSTALLED) $(KERNELS) $(LAYERS) node_modules/.installed chromium java lint typecheck ## lint, type-check and run every test
	$(PY) -m pytest

unit: $(INSTALLED) $(KERNELS) ## run the tests that need neither the layers nor the local server
	$(PY) -m pytest tests/unit

lint: $(INSTALLED) ## ruff
	$(VENV)/bin/ruff check .

typecheck: $(INSTALLED) ## mypy on the package, the Spark job, the handlers and the CDK app
	$(VENV)/bin/mypy layers/core/recs recs_local recs_spark functions infra

kernels: $(KERNELS) ## compile the batch's C kernels for this machine (without a compiler the numpy path runs)

layers: $(LAYERS) ## build the Lambda layers (pip --platform, no Docker) into build/layers

synth: $(INSTALLED) $(LAYERS) node_modules/.installed ## synthesise the CloudFormation template (offline)
	npx cdk synth -q

deploy: $(INSTALLED) $(LAYERS) node_modules/.installed ## deploy into the current AWS account
	npx cdk deploy

bench: $(INSTALLED) $(KERNELS) ## run the benchmarks (installs implicit, the quality competitor) and print their numbers
	$(UV) sync --quiet --locked --extra dev --extra bench
	$(PY) benchmarks/run_all.py

lock: ## re-lock uv.lock after editing pyproject.toml's dependencies (commit both)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) lock

clean: ## remove the virtualenv, build output and caches
	rm -rf $(VENV) build cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache

# The environment is exactly uv.lock's dev set (and the project, editable). --locked refuses a
# lock that no longer matches pyproject.toml: run `make lock` and commit uv.lock with it.
$(INSTALLED): pyproject.toml uv.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --quiet --locked --extra dev
	touch $@

$(LAYERS): $(INSTALLED) uv.lock layers/build_layers.py layers/build_kernels.py $(shell find layers/core/recs -name '*.py' -o -name '*.c' 2>/dev/null)
	$(PY) layers/build_layers.py --out build/layers
	touch $@

# Without root the browser tests (tests/browser) skip and say chromium is missing.
chromium: ## install Debian's chromium for the browser tests when missing (as root)
	@test -x /usr/bin/chromium || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium is missing and this is not root: the browser tests will skip" \
		"(sudo apt-get install chromium)"; fi

# The Spark engine (recs_spark, tests/spark) runs pyspark in local mode on Java 17. Without
# root and without java, the Spark tests skip and say so.
java: ## install Debian's openjdk-17-jre-headless for the Spark engine when java is missing (as root)
	@command -v java >/dev/null || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			openjdk-17-jre-headless; \
	else echo "java is missing and this is not root: the Spark tests will skip" \
		"(sudo apt-get install openjdk-17-jre-headless)"; fi

# The compiled kernels (recs.algorithms.kernels): gcc from Debian when no compiler is there
# (as root); without one the batch runs its numpy path (the same results, slower) and the
# kernels' tests skip and say so.
$(KERNELS): $(INSTALLED) layers/build_kernels.py $(wildcard layers/core/recs/algorithms/kernels/*.c)
	@command -v cc >/dev/null || command -v gcc >/dev/null || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc; fi
	@if command -v cc >/dev/null || command -v gcc >/dev/null; then $(PY) layers/build_kernels.py; \
	else echo "no C compiler and this is not root: the batch will run its numpy path" \
		"(sudo apt-get install gcc)"; fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	touch $@
