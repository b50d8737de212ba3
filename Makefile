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
test: $(STAMP) browser ## Run every test tier: unit, integration (moto), e2e (local stack over HTTP)
	$(PY) -m pytest

# The dashboard's browser test drives Debian's chromium through its chromedriver: installed with
# apt (never a browser downloaded by Selenium Manager). Quick when both are there already.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver

.PHONY: browser
browser: ## Install chromium + chromedriver with apt if missing (the dashboard's browser test)
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "$(CHROMIUM) and $(CHROMEDRIVER) are needed by tests/e2e/test_dashboard_browser.py and this"; \
	  echo "machine has no apt-get: install chromium and its chromedriver (same version) at those paths."; \
	  exit 1; \
	fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
	  echo "installing chromium needs root (or sudo): apt-get install chromium chromium-driver"; exit 1; \
	fi; \
	echo "installing chromium and chromium-driver with apt-get (the dashboard's browser test)"; \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
	  || { echo "apt-get could not install chromium chromium-driver (see above)"; exit 1; }; \
	[ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ] || { echo "apt installed chromium but $(CHROMIUM) or $(CHROMEDRIVER) is missing"; exit 1; }
	@$(CHROMIUM) --version 2>/dev/null || true

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
