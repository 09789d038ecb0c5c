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

.PHONY: run test lint format browser redis bench clean server worker deploy

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

# --- Unattended runs on real servers (docs/operations.md) -------------------------------------
# `make server` (one terminal, Ctrl-C stops both), then `make deploy` once, then `make worker`.
# Everything listens on 127.0.0.1; state lives in SERVER_HOME. The MLflow server proxies
# artifacts (--artifacts-destination): clients send models to it and never write their own disk.
PREFECT_PORT ?= 4200
MLFLOW_PORT ?= 5000
SERVER_HOME ?= $(CURDIR)/.ccseg-server
PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
MLFLOW_TRACKING_URI ?= http://127.0.0.1:$(MLFLOW_PORT)
# Background jobs of a non-interactive shell start with SIGINT ignored, and Prefect's worker
# stops on SIGTERM by sending itself SIGINT: restore the default so one SIGTERM stops it.
SIGINT_DEFAULT := $(VENV)/bin/python -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])'

server: $(STAMP)
	mkdir -p $(SERVER_HOME)/prefect $(SERVER_HOME)/mlartifacts
	trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	PREFECT_HOME=$(SERVER_HOME)/prefect PREFECT_SERVER_ANALYTICS_ENABLED=false \
	  $(VENV)/bin/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) & \
	$(VENV)/bin/mlflow server --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1 \
	  --backend-store-uri sqlite:///$(SERVER_HOME)/mlflow.db \
	  --artifacts-destination $(SERVER_HOME)/mlartifacts & \
	wait

deploy: $(STAMP)
	mkdir -p landing
	export PREFECT_API_URL=$(PREFECT_API_URL); \
	$(VENV)/bin/prefect work-pool inspect ccseg-process >/dev/null 2>&1 || \
	  $(VENV)/bin/prefect work-pool create ccseg-process --type process; \
	$(VENV)/bin/prefect work-queue inspect segmentation --pool ccseg-process >/dev/null 2>&1 || \
	  $(VENV)/bin/prefect work-queue create segmentation --pool ccseg-process --limit 1; \
	$(VENV)/bin/prefect --no-prompt deploy --all && \
	$(VENV)/bin/python -m ccseg.alerts

worker: $(STAMP)
	PREFECT_API_URL=$(PREFECT_API_URL) MLFLOW_TRACKING_URI=$(MLFLOW_TRACKING_URI) \
	  CCSEG_PROJECT_DIR=$(CURDIR) \
	  exec $(SIGINT_DEFAULT) $(VENV)/bin/prefect worker start --pool ccseg-process

clean:
	rm -rf $(VENV) mlruns mlflow.db mlartifacts outputs reports .ccseg synthetic .pytest_cache
