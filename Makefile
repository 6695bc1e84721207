# The two commands a user needs: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
BROWSER := $(VENV)/.chromium

.PHONY: demo serve-demo test test-slow lint typecheck pytest clean bench screenshot

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# Debian's chromium for the dashboard's browser test (playwright drives it; no browser is ever downloaded).
# Installed when missing and we are root or may sudo; otherwise that one test skips, naming the package.
$(BROWSER): | $(STAMP)
	@if [ -x $(CHROMIUM) ]; then touch $@; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium && touch $@; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium && touch $@; \
	else echo "note: $(CHROMIUM) is missing and cannot be installed here (not root, no sudo): the dashboard's browser test skips; install Debian's 'chromium' package to run it"; fi

lint: $(STAMP)
	$(BIN)/ruff check msgbridge tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy msgbridge

# Kannel (bearerbox + smsbox) is one of the independent ESMEs the SMPP front is tested against: Debian's
# package, installed when missing and we are root; elsewhere that test skips naming the package. The
# package's init script starts its own bearerbox (and wapbox): stopped, the tests start their own.
KANNEL_STAMP := $(VENV)/.kannel

$(KANNEL_STAMP): $(STAMP)
	@if [ ! -x /usr/sbin/bearerbox ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kannel \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kannel; } \
		|| echo "could not install Debian's kannel package: the Kannel interop test will skip"; \
		if [ -x /etc/init.d/kannel ]; then /etc/init.d/kannel stop >/dev/null 2>&1 || true; fi; \
	fi
	@if [ -x /usr/sbin/bearerbox ]; then touch $@; \
	else echo "no /usr/sbin/bearerbox (Debian package 'kannel', install as root): the Kannel interop test will skip"; fi

# Two workers (pytest-xdist): most of the suite waits on sockets, subprocesses and timers rather than the
# CPU, so two at once halve the wall time on a 2-core machine; each worker starts its own PostgreSQL.
pytest: $(STAMP) $(BROWSER) $(KANNEL_STAMP)
	$(BIN)/pytest -n 2

test: lint typecheck pytest

# The slow-marked tests left out of `make test` (e.g. ten kill -9 runs of a 10,000-recipient campaign).
test-slow: $(STAMP)
	$(BIN)/pytest -m slow -s

demo: $(STAMP)
	$(BIN)/python -m msgbridge.demo

# The same campaign through `msgbridge serve` and its HTTP API.
serve-demo: $(STAMP)
	$(BIN)/python -m msgbridge.demo --serve

# docs/dashboard.png: the dashboard during a running campaign, taken by its browser test.
screenshot: $(STAMP) $(BROWSER)
	DASHBOARD_SCREENSHOT=docs/dashboard.png $(BIN)/pytest -p no:cacheprovider tests/integration/service/http/test_dashboard_browser.py

clean:
	rm -rf $(VENV) msgbridge.db demo-out
