# marsad — the two commands a newcomer needs are `make run` and `make test`.
# Everything else is a step they call.

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
MARSAD  := $(VENV)/bin/marsad
STAMP   := $(VENV)/.installed

.PHONY: help setup system run test test-fast lint typecheck bench soak clean

help:
	@echo "make run    - set up, start the embedded broker and the three processors, publish the seeds, show the events"
	@echo "make test   - set up (venv, Debian packages), lint, type-check and run the whole test suite"
	@echo "make bench  - per-stage and end-to-end throughput on ../shared/data/ant"

# torch's CPU wheel goes in before camel-tools so pip never resolves a multi-GB CUDA build;
# requirements.lock pins every other package (pip freeze of a working venv).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the integration tests use: a real Prometheus server, and openssl to
# make the TLS tests' certificates.
SYSTEM_PACKAGES := prometheus openssl
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: setup
	$(MARSAD) demo

lint: setup
	$(VENV)/bin/ruff check services tests

typecheck: setup
	$(VENV)/bin/mypy services

test: setup system lint typecheck
	$(VENV)/bin/pytest tests

test-fast: setup
	$(VENV)/bin/pytest tests -m "not slow and not integration"

bench: setup
	$(MARSAD) bench --broker

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
