# talon-relay: every command a developer or CI needs. `make install` first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# `sam build` (no Docker) needs the runtime's python3.13 on PATH; pyenv provides it on this machine kind.
SAM_PYENV ?= $(shell command -v pyenv >/dev/null 2>&1 && echo PYENV_VERSION=3.11.7:3.12.1:3.13.0)
SAM := $(SAM_PYENV) $(BIN)/sam
CONFIG_ENV ?= default
export SAM_CLI_TELEMETRY := 0

.PHONY: install test lint build deploy clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)  ## create .venv with the layer's and the dev dependencies
	$(PY) -m pip install --quiet -r layers/talon_relay/requirements.txt -r requirements-dev.txt

test:  ## the whole test suite (unit, functions, template, end-to-end)
	$(PY) -m pytest

lint:  ## ruff, mypy, import-linter contracts, cfn-lint and sam validate --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/talon_relay/talon_relay functions local tests bench
	PYTHONPATH=layers/talon_relay $(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml

build:  ## sam build (layer and five functions, python3.13 arm64)
	$(SAM) build --template template.yaml

deploy: build  ## sam deploy with the samconfig.toml environment CONFIG_ENV (default, dev, prod)
	$(SAM) deploy --config-env $(CONFIG_ENV)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

.PHONY: run demo cleanup redrive

run:  ## the whole bundle on this machine: Talon.One emulator, local AWS, local gateway (Ctrl-C stops)
	$(PY) -m local run $(ARGS)

demo:  ## a scripted journey through all five operations (uses `make run`'s stack, or starts one)
	$(PY) -m local demo

cleanup:  ## run the off-peak erasure schedule of the running stack now
	$(PY) -m local cleanup

redrive:  ## move FUNCTION's dead-lettered messages back to its queue (local stack, or STACK=<deployed stack>)
	@test -n "$(FUNCTION)" || { echo "usage: make redrive FUNCTION=update_customer_session [STACK=name]"; exit 2; }
	$(PY) -m local redrive $(FUNCTION) $(if $(STACK),--stack $(STACK))

.PHONY: bench

bench:  ## benchmark vs the official SDK and bare urllib3: cold start, warm overhead, batch, memory, size (bench/results.md)
	$(PY) -m bench $(BENCH_ARGS)
