# Two entry points: `make lab` (run the product) and `make test` (every suite and linter).
# Everything is installed into .venv from PyPI/npm/Debian; nothing else is assumed.

SHELL := /bin/bash
VENV ?= .venv
PORT ?= 8888
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := -c requirements/constraints.txt
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

WHEEL_SOURCES := pyproject.toml install.json $(shell find jupyter_mlops jupyter-config labextension/src labextension/style labextension/schema -type f -not -path '*/labextension/static/*' -not -name '_version.py' -not -path 'jupyter_mlops/labextension/*' 2>/dev/null) labextension/package.json

.PHONY: lab test install lint test-python test-ui wheel system-deps constraints clean bench-proxy bench-mlflow bench

## lab: install everything, then JupyterLab with the extension on the embedded demo platform
lab: install
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

## test: install what the tests need (Debian chromium included), run linters and all suites
test: install system-deps lint test-python test-ui

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.build-tools: requirements/build.txt requirements/constraints.txt | $(BIN)/python
	$(PIP) install -q $(CONSTRAINTS) -r requirements/build.txt
	touch $@

labextension/node_modules/.yarn-state.yml: labextension/package.json labextension/yarn.lock $(VENV)/.build-tools
	cd labextension && $(BIN)/jlpm install
	touch $@

## wheel: the distributable wheel with the prebuilt labextension (no Node.js needed to install it)
wheel: dist/.built
dist/.built: $(WHEEL_SOURCES) labextension/node_modules/.yarn-state.yml
	rm -rf dist jupyter_mlops/labextension
	$(PIP) wheel -q --no-build-isolation --no-deps . -w dist
	touch $@

install: $(VENV)/.installed
$(VENV)/.installed: dist/.built server/pyproject.toml requirements/constraints.txt
	$(PIP) install -q $(CONSTRAINTS) --force-reinstall --no-deps dist/jupyter_mlops-*.whl
	$(PIP) install -q $(CONSTRAINTS) "$$(ls dist/jupyter_mlops-*.whl)[embedded,test,dev]" \
		-e "./server[dev,test,mlflow,postgres]"
	touch $@

## system-deps: Debian packages the tests run for real (Chromium, PostgreSQL server binaries)
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	ls /usr/share/postgresql/15/extension/postgis.control >/dev/null 2>&1 || missing="$$missing postgresql-15-postgis-3"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

lint: install
	$(BIN)/ruff check jupyter_mlops server tests bench
	$(BIN)/ruff format --check jupyter_mlops server tests bench
	$(BIN)/mypy
	$(BIN)/mypy server/mlops_server
	cd labextension && $(BIN)/jlpm lint:check
	cd labextension && $(BIN)/jlpm test

# Every suite under tests/ but the browser one, which runs on its own (Playwright's sync loop).
test-python: install system-deps
	$(BIN)/pytest tests --ignore=tests/ui -p no:cacheprovider

test-ui: install system-deps
	$(BIN)/pytest tests/ui -p no:cacheprovider

## bench-proxy: proxied vs direct search latency and download throughput (prints ratios)
bench-proxy: install
	$(BIN)/python bench/proxy.py

## bench: catalog search (10k and 100k projects) vs stac-fastapi-pgstac, same items (ratios)
PGSTAC_VENV ?= /tmp/pgstac-venv
bench: install system-deps $(PGSTAC_VENV)/bin/pypgstac
	$(BIN)/python bench/catalog.py --pgstac-venv $(PGSTAC_VENV)

# The reference server in a venv of its own: its pins must not meet ours.
$(PGSTAC_VENV)/bin/pypgstac:
	$(PYTHON) -m venv $(PGSTAC_VENV)
	$(PGSTAC_VENV)/bin/pip install -q "stac-fastapi-pgstac[server]" "pypgstac[psycopg]"

## bench-mlflow: MLflow SharingHub layer vs plain mlflow server, log_batch and run search (ratios)
bench-mlflow: install
	$(BIN)/python bench/mlflow_overhead.py

## constraints: refresh the pinned versions from the current venv
constraints:
	{ echo "# Exact versions CI and 'make' install (pip -c). Regenerate with 'make constraints'."; \
	  $(PIP) freeze --exclude jupyter-mlops --exclude mlops-server | grep -v '^-e'; } > requirements/constraints.txt

clean:
	rm -rf dist build $(VENV) labextension/node_modules labextension/lib jupyter_mlops/labextension
