# Two commands matter: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SANDBOX_PORT ?= 8081
PORTAL_PORT ?= 8000
# The demo shows everything, Enterprise features included.
SANDBOX_ARGS ?= --enterprise
CHROMIUM ?= /usr/bin/chromium

# Django 6 needs Python >= 3.12. Use PYTHON if given, else the first 3.12+
# interpreter on PATH, else one installed under pyenv.
PYTHON ?= $(shell scripts/find-python)

.PHONY: help venv dev-deps browser demo serve test lint bench loadtest clean

help:
	@echo "make demo   - run the Stalwart sandbox and the portal on 127.0.0.1"
	@echo "make test   - install what the tests need and run the whole suite"
	@echo "make lint   - ruff"

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.12+ found. Install one or set PYTHON=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-deps: $(VENV)/.dev-installed

# Browser tests drive Debian's Chromium; never a downloaded browser.
browser:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The demo runs in DEBUG mode on loopback with the sandbox as its Stalwart.
demo: venv
	DEBUG=1 $(PY) manage.py migrate --noinput -v 0
	DEBUG=1 STALWART_URL=http://127.0.0.1:$(SANDBOX_PORT) $(PY) manage.py demo --sandbox-port $(SANDBOX_PORT) --port $(PORTAL_PORT) --sandbox-args="$(SANDBOX_ARGS)"

# The portal alone, against the Stalwart named by STALWART_URL (see README).
serve: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/uvicorn portal.asgi:application --host $${HOST:-127.0.0.1} --port $(PORTAL_PORT)

test: dev-deps browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# Speed and memory against the direct Stalwart (sandbox) calls; writes BENCHMARKS.md.
bench: dev-deps
	$(PY) -m bench

# Concurrent people and live streams through one portal process (not part of `make test`);
# writes the "Load test" section of BENCHMARKS.md. e.g. LOADTEST_ARGS="--users 30 --streams 100".
loadtest: venv
	$(PY) -m loadtest $(LOADTEST_ARGS)

lint: dev-deps
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) test-output .pytest_cache
