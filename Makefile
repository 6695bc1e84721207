# The two commands a user needs: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve-demo test test-slow lint typecheck pytest clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

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

pytest: $(STAMP) $(KANNEL_STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The slow-marked tests left out of `make test` (e.g. ten kill -9 runs of a 10,000-recipient campaign).
test-slow: $(STAMP)
	$(BIN)/pytest -m slow -s

demo: $(STAMP)
	$(BIN)/python -m msgbridge.demo

# The same campaign through `msgbridge serve` and its HTTP API.
serve-demo: $(STAMP)
	$(BIN)/python -m msgbridge.demo --serve

clean:
	rm -rf $(VENV) msgbridge.db demo-out
