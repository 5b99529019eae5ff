# The operator's commands. `make run` and `make test` work on a fresh clone with nothing else done.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8080
HOST ?= 127.0.0.1
# Test backends: PostgreSQL and Redis when reachable (see tests/backends.sh), else SQLite and memory.
TEST_ENV = $(shell sh tests/backends.sh)

.PHONY: help venv install install-dev run migrate superuser test test-unit test-fast conformance bench bench-memory soak clean

help:
	@echo "make run          install, migrate and serve on http://$(HOST):$(PORT) (SQLite unless DATABASE_URL is set)"
	@echo "make test         the whole test suite (PostgreSQL + Redis when reachable)"
	@echo "make test-unit    the suite without the official MCP tools, Chromium or nginx"
	@echo "make conformance  the official MCP conformance suite, Inspector CLI, SDK clients (Python, TypeScript), mcp-remote and oauth4webapi against gunicorn"
	@echo "make bench        throughput benchmark against the official SDK and a bare Django view"
	@echo "make soak         10-minute mixed-load soak (whole OAuth + MCP client lives)"
	@echo "make bench-memory worker memory growth over 100,000 hot-path requests (target < 10 MB)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

venv install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

# The development server: DEBUG needs ENVIRONMENT=development set explicitly, unless the shell or .env sets it.
RUN_ENV = $(if $(ENVIRONMENT)$(shell grep -s '^ENVIRONMENT=' .env),,ENVIRONMENT=development)

run: migrate
	$(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

superuser: $(VENV)/.installed
	$(PY) manage.py createsuperuser

test: $(VENV)/.installed-dev tools
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# Needs neither `tools` (Node, the conformance suite, Inspector, SDK) nor Chromium nor nginx.
UNIT_MARKERS := not needs_tools and not browser and not needs_nginx
test-unit: $(VENV)/.installed-dev
	$(TEST_ENV) $(PY) -m pytest -m "$(UNIT_MARKERS)" $(PYTEST_ARGS)

# The official MCP tools (Node 22, conformance suite, Inspector, TypeScript clients, mcp-remote, oauth4webapi,
# Python SDK), pinned in tools/.
tools: tools/.installed
tools/.installed: tools/package.json tools/requirements.txt
	sh tools/install.sh
	touch $@

CONFORMANCE_TESTS = tests/e2e/test_conformance.py tests/e2e/test_real_clients.py tests/e2e/test_ts_clients.py \
	tests/e2e/test_mcp_remote.py

conformance: $(VENV)/.installed-dev tools
	$(TEST_ENV) $(PY) -m pytest $(CONFORMANCE_TESTS) -v

bench: $(VENV)/.installed-dev tools
	$(TEST_ENV) $(PY) bench/run.py

soak: $(VENV)/.installed-dev
	$(TEST_ENV) $(PY) bench/soak.py --duration 600

bench-memory: $(VENV)/.installed-dev
	$(TEST_ENV) $(PY) bench/memory.py --requests 100000

clean:
	rm -rf $(VENV) tools/node_modules tools/venv tools/.installed data/db.sqlite3
