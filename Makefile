# talon-relay: every command a developer or CI needs. `make install` first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SAM := $(BIN)/sam
# The interpreter that compiles the layer's bytecode (a python3.13: LAYER_PYTHON, PATH or pyenv; see
# layers/talon_relay/Makefile). Empty when there is none: the layer is then built without bytecode.
LAYER_PYTHON ?= $(shell $(MAKE) -s --no-print-directory -C layers/talon_relay python)
LAYER_BYTECODE := .aws-sam/build/TalonRelayLayer/python/talon_relay/__pycache__/__init__.cpython-313.pyc
CONFIG_ENV ?= default
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help install test test-fast fuzz lint generate template checkers mapping-schema build preflight deploy clean

help:  ## this list: every target, one line each (`make` alone shows it too)
	@echo "usage: make <target> [VARIABLE=value ...]   (start with: make install)"
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-zA-Z][a-zA-Z0-9_-]*:[^=]*## / { printf "  %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)  ## create .venv: the layer's package talon_relay (editable) with its dependencies, and the dev tools
	$(PY) -m pip install --quiet -r requirements-dev.txt -e layers/talon_relay

TEST_WORKERS ?= auto
test:  ## the whole test suite (unit, contract, functions, template, emulator, local, end-to-end); what CI runs
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast:  ## the inner loop, in seconds: unit, contract and template tests only (not the slow ones)
	$(PY) -m pytest tests/unit tests/contract tests/template -q -m "not slow"

FUZZ_EXAMPLES ?= 60
fuzz:  ## deeper schemathesis run: FUZZ_EXAMPLES (60) per Integration API operation and mode against the local stack
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/e2e/test_fuzz.py -q --timeout=3600

lint:  ## what `make generate` makes up to date, ruff, mypy, import-linter contracts, cfn-lint and sam validate --lint
	$(PY) -m template.render --check
	$(PY) -m template.checkers_build --check
	$(PY) -m template.generate --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/talon_relay/talon_relay functions local tests bench template
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml stacks/*.yaml
	$(SAM) validate --lint --template template.yaml

generate: template checkers  ## all the operation table makes: template.yaml, checkers.json, functions/<function>/<function>.py, events/<function>/
	$(PY) -m template.generate

template:  ## render template.yaml from template/base.yaml and the operation table (talon_relay.operations)
	$(PY) -m template.render

checkers:  ## write the request checkers (talon_relay/core/checkers.json) from the request models, after changing a model
	$(PY) -m template.checkers_build

mapping-schema:  ## write the webhook mapping files' JSON Schema (talon_relay/webhooks/mapping.schema.json) from its model
	$(PY) -m talon_relay.webhooks.mapping_model

# A cached layer keeps the bytecode choice of the build that made it: rebuilt when a python3.13 is found now
# but the layer has no bytecode; built without one, it works but pays for it at every cold start.
build:  ## sam build: the layer (python3.13 arm64 wheels, bytecode when a python3.13 is found) and the functions
	@layer_python="$(LAYER_PYTHON)"; set -e; \
	export LAYER_PYTHON="$$layer_python" PIP_PYTHON="$(abspath $(PY))"; \
	echo "$(SAM) build --template template.yaml  # layer bytecode by: $${layer_python:-nothing}"; \
	$(SAM) build --template template.yaml; \
	if [ -n "$$layer_python" ] && [ ! -f $(LAYER_BYTECODE) ]; then \
		echo "the cached layer has no bytecode: building again with $$layer_python"; \
		$(SAM) build --template template.yaml --no-cached; \
	fi; \
	if [ ! -f $(LAYER_BYTECODE) ]; then \
		echo "WARNING: no python3.13 found (on PATH, in pyenv, or LAYER_PYTHON=/path/to/python3.13): the layer"; \
		echo "  was built without bytecode. It works, but Lambda cannot write bytecode under /opt, so every cold"; \
		echo "  start compiles the layer again (about 0.25 s more: 472 ms instead of 219 ms in make bench)."; \
		echo "  Install Python 3.13 (e.g. pyenv install 3.13) and build again before deploying."; \
	fi

preflight:  ## what make deploy refuses, before building: CONFIG_ENV's samconfig.toml settings, template.yaml, the account
	$(PY) -m template.preflight --config-env $(CONFIG_ENV)

deploy: preflight build  ## sam deploy with the samconfig.toml environment CONFIG_ENV (default, dev, prod)
	@test -f $(LAYER_BYTECODE) || test "$(ALLOW_NO_BYTECODE)" = 1 || { \
		echo "refusing to deploy a layer without bytecode (slower cold starts): install Python 3.13 and run"; \
		echo "make deploy again, or accept the cost with make deploy ALLOW_NO_BYTECODE=1"; exit 1; }
	$(SAM) deploy --config-env $(CONFIG_ENV)

clean:  ## delete the build, test and lint caches (.aws-sam, .pytest_cache, .mypy_cache, .ruff_cache)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

.PHONY: run demo cleanup redrive catalog-backfill

run:  ## the whole bundle on this machine: Talon.One emulator, local AWS, local gateway (Ctrl-C stops)
	$(PY) -m local run $(ARGS)

demo:  ## a scripted journey through all five operations (uses `make run`'s stack, or starts one)
	$(PY) -m local demo

cleanup:  ## run the off-peak erasure schedule of the running stack now
	$(PY) -m local cleanup

redrive:  ## move FUNCTION's dead-lettered messages back to its queue, FUNCTION=events: the bus's (local, or STACK=<stack>)
	@test -n "$(FUNCTION)" || { echo "usage: make redrive FUNCTION=update_customer_session|events [STACK=name]"; exit 2; }
	$(PY) -m local redrive $(FUNCTION) $(if $(STACK),--stack $(STACK))

catalog-backfill:  ## queue a whole catalog's products (FILE, Shopify JSON) as syncs of CATALOG (local stack, or STACK=<deployed stack>)
	@test -n "$(CATALOG)" -a -n "$(FILE)" || { echo "usage: make catalog-backfill CATALOG=1 FILE=products.json [STACK=name] [CONVENTIONS=shopify_sku=variant_id] [APPLICATION=us] [SIGNING_SECRET_ARN=arn]"; exit 2; }
	$(PY) -m local.backfill --catalog $(CATALOG) --file $(FILE) $(if $(STACK),--stack $(STACK)) $(if $(CONVENTIONS),--conventions $(CONVENTIONS)) $(if $(APPLICATION),--application $(APPLICATION)) $(if $(SIGNING_SECRET_ARN),--signing-secret-arn $(SIGNING_SECRET_ARN))

.PHONY: load bench

load:  ## the load and outage run: 2,000 requests and messages while Talon.One rate-limits and goes down (about a minute)
	$(PY) -m local.load $(LOAD_ARGS)

bench:  ## benchmark vs the official SDK and bare urllib3: cold start, warm overhead, batch, memory, size (bench/results.md)
	$(PY) -m bench $(BENCH_ARGS)
