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
# Test processes for `make test` (pytest-xdist); TEST_WORKERS=0 runs the suite in this process.
# worksteal: an idle process takes queued tests from a busy one, so the long browser walks
# do not leave one process working alone at the end.
TEST_WORKERS ?= 2

# Django 6 needs Python >= 3.12. Use PYTHON if given, else the first 3.12+
# interpreter on PATH, else one installed under pyenv.
PYTHON ?= $(shell scripts/find-python)

.PHONY: help venv dev-deps browser node-deps demo serve test screenshots lint messages bench loadtest clean

# One line per target of .PHONY (tests/test_packaging.py checks that none is missing).
help:
	@echo "make demo        - run the Stalwart sandbox and the portal on 127.0.0.1 (PORTAL_PORT, SANDBOX_PORT)"
	@echo "make test        - install what the tests need and run the whole suite (PYTEST_ARGS, TEST_WORKERS)"
	@echo "make serve       - the portal alone against STALWART_URL (PORTAL_HOST, PORTAL_PORT, FORWARDED_ALLOW_IPS)"
	@echo "make lint        - ruff, mypy (types) and lint-imports (architecture contracts)"
	@echo "make screenshots - every page at 1280 and 390 px into test-output/screenshots/pages/ (PAGES)"
	@echo "make bench       - speed and memory next to the direct Stalwart calls, into BENCHMARKS.md and bench/results.json"
	@echo "make loadtest    - concurrent people and live streams through one portal process (LOADTEST_ARGS)"
	@echo "make messages    - refresh the English catalogues in locale/ (needs GNU gettext)"
	@echo "make venv        - create .venv and install the pinned dependencies"
	@echo "make dev-deps    - venv plus the development dependencies"
	@echo "make browser     - install Debian's chromium for the browser tests when missing"
	@echo "make node-deps   - install the pinned axe-core with npm ci"
	@echo "make clean       - remove .venv, node_modules and test output"
	@echo "make help        - this list"

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.12+ found. Install one or set PYTHON=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The static checks, run by `make lint` and before the tests by `make test`: ruff, mypy
# (strict on portal/, pyproject.toml [tool.mypy]) and the import contracts (pyproject.toml
# [tool.importlinter]: the sandbox and the portal apart, views above the access gate and the
# service layer, only portal.stalwart speaking HTTP, no import cycles).
define CHECKS
$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
endef

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

# axe-core for the accessibility tests, pinned in package-lock.json. Reinstalled when
# node_modules is missing or older than package.json / package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

node-deps: node_modules/.installed

# The demo runs in DEBUG mode on loopback with the sandbox as its Stalwart.
demo: venv
	DEBUG=1 $(PY) manage.py migrate --noinput -v 0
	DEBUG=1 STALWART_URL=http://127.0.0.1:$(SANDBOX_PORT) $(PY) manage.py demo --sandbox-port $(SANDBOX_PORT) --port $(PORTAL_PORT) --sandbox-args="$(SANDBOX_ARGS)"

# The portal alone, against the Stalwart named by STALWART_URL (see README). uvicorn believes
# X-Forwarded-For/-Proto only from FORWARDED_ALLOW_IPS (default: loopback only).
serve: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/uvicorn portal.asgi:application --host "$${PORTAL_HOST:-127.0.0.1}" --port "$(PORTAL_PORT)" \
	  --proxy-headers --forwarded-allow-ips "$${FORWARDED_ALLOW_IPS:-127.0.0.1}"

test: dev-deps browser node-deps
	$(CHECKS)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Every page the URL walk reaches (plus sample detail pages), as admin and as a plain
# user, at 1280 and 390 px: test-output/screenshots/pages/<width>/<page>.png (0.16: pages/jmap/<width>/)
# (PAGES=queue-list,directory-detail for only those).
screenshots: dev-deps browser node-deps
	SCREENSHOTS=1 PAGES=$(PAGES) $(PY) -m pytest tests/browser/test_page_widths.py tests/browser/test_jmap_pages.py -q -p no:warnings $(PYTEST_ARGS)

# Speed and memory against the direct Stalwart (sandbox) calls; writes BENCHMARKS.md.
bench: dev-deps
	$(PY) -m bench

# Concurrent people and live streams through one portal process (not part of `make test`);
# writes the "Load test" section of BENCHMARKS.md. e.g. LOADTEST_ARGS="--users 30 --streams 100".
loadtest: venv
	$(PY) -m loadtest $(LOADTEST_ARGS)

lint: dev-deps
	$(CHECKS)

# The English catalogues, locale/en/LC_MESSAGES/: the marked strings of portal/ and
# templates/ (django.po) and of static/js/ (djangojs.po), then their .mo files. Both are
# committed, so nothing else needs GNU gettext (xgettext, msgmerge, msgfmt); the creation
# date is left out so that a run without new strings changes nothing.
MESSAGES_IGNORE := $(addprefix --ignore=,.venv node_modules staticfiles test-output tests sandbox bench loadtest scripts var)
messages: venv
	@command -v xgettext >/dev/null && command -v msgfmt >/dev/null || { echo "make messages needs GNU gettext (e.g. apt-get install gettext)" >&2; exit 1; }
	DEBUG=1 $(PY) manage.py makemessages -l en --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	DEBUG=1 $(PY) manage.py makemessages -l en -d djangojs --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	sed -i '/^"POT-Creation-Date: /d' locale/*/LC_MESSAGES/*.po
	DEBUG=1 $(PY) manage.py compilemessages -l en $(MESSAGES_IGNORE)

clean:
	rm -rf $(VENV) node_modules test-output .pytest_cache
