# micromoments: `make run` starts the local stack, `make test` runs every test tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PY) -m pip install --disable-pip-version-check -q "pip>=23,<26.3"
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv (if missing) and install pinned dependencies

.PHONY: run
run: $(STAMP) ## Start moto + chalice local + queue pump on 127.0.0.1, seed the demo (Ctrl-C stops)
	$(PY) -m devstack run

.PHONY: demo
demo: $(STAMP) ## Play a scripted shopper's day against the running local stack (start it with make run)
	$(PY) -m devstack.demo

.PHONY: test
test: $(STAMP) ## Run every test tier: unit, integration (moto), e2e (local stack over HTTP)
	$(PY) -m pytest

.PHONY: test-fast
test-fast: $(STAMP) ## Unit and integration tiers only (no local stack)
	$(PY) -m pytest tests/unit tests/integration

.PHONY: lint
lint: $(STAMP) ## ruff (lint + format check) and mypy on chalicelib/ and app.py
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

.PHONY: format
format: $(STAMP) ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

.PHONY: bench
bench: $(STAMP) ## Run the benchmarks and rewrite docs/BENCHMARKS.md
	$(PY) -m bench

STAGE ?=

.PHONY: deploy
deploy: $(STAMP) ## Deploy STAGE=dev|prod: data stack, secrets, chalice deploy, smoke test; prints the API URL
	@case "$(STAGE)" in dev|prod) ;; *) echo "usage: make deploy STAGE=dev|prod"; exit 2;; esac
	$(PY) -m infra deploy --stage $(STAGE) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))

.PHONY: package
package: $(STAMP) ## One SAM template + deployment.zip for STAGE=dev|prod in build/STAGE (cfn-lint, size check)
	@case "$(STAGE)" in dev|prod) ;; *) echo "usage: make package STAGE=dev|prod"; exit 2;; esac
	$(PY) -m infra package --stage $(STAGE)

.PHONY: destroy
destroy: $(STAMP) ## Remove STAGE=dev (prod also needs CONFIRM=prod)
	@case "$(STAGE)" in dev|prod) ;; *) echo "usage: make destroy STAGE=dev [CONFIRM=prod]"; exit 2;; esac
	$(PY) -m infra destroy --stage $(STAGE) --confirm "$(CONFIRM)"

.PHONY: redrive
redrive: $(STAMP) ## Move the DLQ's messages back to the events queue, STAGE=local|dev|prod
	@case "$(STAGE)" in local|dev|prod) ;; *) echo "usage: make redrive STAGE=local|dev|prod"; exit 2;; esac
	$(PY) -m infra redrive --stage $(STAGE)

.PHONY: clean
clean: ## Remove caches and the local stack's state (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis .devstack
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'
