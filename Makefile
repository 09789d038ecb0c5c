# Two commands on a fresh machine: `make run` (the segmentation flow end to end) and `make test`.
# Both bootstrap .venv from nothing but python3, installing uv inside it and the locked packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced
# The real dataset is read from ../shared/data/cc_general.csv (core/settings.py); a
# CCSEG_DATA_PATH in your environment overrides it and must then exist. Without either, the run
# segments synthetic customers in ./synthetic/ and says so: it is never mixed with real results.

.PHONY: run test lint format browser redis bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet
	touch $(STAMP)

# Headless Chromium for the report and widget tests (Debian packages, needs root or sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Redis for the chat service's shared-cache tests against a real server (Debian package; the tests
# start their own instance on a free loopback port, whatever the package's service does).
redis:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

run: $(STAMP)
	$(VENV)/bin/ccseg run

test: $(STAMP) browser redis
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) mlruns mlflow.db mlartifacts outputs reports .ccseg synthetic .pytest_cache
