# Two commands for a newcomer (see README): `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
FRONTEND_PORT ?= 3000
BACKEND_PORT ?= 8000
LOCALSTRIPE_PORT ?= 8420
# axe-core for the browser tests' accessibility checks, from the npm registry into tools/.
AXE_CORE_VERSION := 4.14.1
AXE := tools/node_modules/axe-core/axe.min.js

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install install-dev migrate run dev demo-data test lint format chromium axe clean bench

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(VENV)/bin/alembic upgrade head

## make run: everything a fresh machine needs, then the production build (minified, pages
## and API on one port) on http://localhost:3000; Ctrl+C stops it (and the local Stripe).
run: install migrate
	STRIPE_API_BASE=$${STRIPE_API_BASE-http://127.0.0.1:$(LOCALSTRIPE_PORT)} \
	  LOCALSTRIPE_PORT=$(LOCALSTRIPE_PORT) \
	  $(PY) -m scripts.run_local --env prod --frontend-port $(FRONTEND_PORT) --backend-port $(FRONTEND_PORT)

## make dev: the same with hot reload (Vite on FRONTEND_PORT, the backend on BACKEND_PORT)
dev: install migrate
	STRIPE_API_BASE=$${STRIPE_API_BASE-http://127.0.0.1:$(LOCALSTRIPE_PORT)} \
	  LOCALSTRIPE_PORT=$(LOCALSTRIPE_PORT) \
	  $(PY) -m scripts.run_local --env dev --frontend-port $(FRONTEND_PORT) --backend-port $(BACKEND_PORT)

demo-data: install migrate
	$(PY) -m ticketing_app.demo

chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium not found: install Debian's chromium (or set CHROMIUM_PATH) for browser tests"; fi

$(AXE): | $(VENV)/.installed
	$(VENV)/bin/npm install --prefix tools --no-audit --no-fund --no-save axe-core@$(AXE_CORE_VERSION)

axe: $(AXE)

## make test: installs test dependencies (Chromium when root, axe-core), then every test
test: install-dev chromium $(AXE)
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench: every benchmark (docs/performance.md); needs PostgreSQL (TEST_DATABASE_URL)
bench: install-dev
	for b in bench_reserve bench_http_reserve bench_expiry bench_expiry_live bench_clients bench_listing bench_events bench_event_listings bench_browse bench_connect_cost bench_upload_health; do \
	  $(PY) bench/$$b.py || exit 1; done

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf .web .states ticketing.db ticketing.db-* $(VENV)
