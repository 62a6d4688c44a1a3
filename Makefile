# PenguinMon. `make run` starts everything on the embedded default; `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Web, worker and beat share their Prometheus counters through this directory (make run only).
PROM_DIR := $(CURDIR)/var/prometheus

.PHONY: run test fuzz bench stop lint format demo test-deps bench-deps test-query-properties test-promql-long

# A fresh Debian/Ubuntu has python3 without venv/ensurepip: install python3-venv then.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -c 'import venv, ensurepip' 2>/dev/null || { $(APT_INSTALL) python3-venv; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	rm -rf $(PROM_DIR) && mkdir -p $(PROM_DIR)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap
	$(BIN)/python manage.py load_demo --days 30 --if-empty
	PROMETHEUS_MULTIPROC_DIR=$(PROM_DIR) $(BIN)/honcho -f Procfile start

demo: $(STAMP)
	$(BIN)/python manage.py load_demo --days 30

# Debian packages the suite and the benchmarks use: chromium drives the browser tests
# (Playwright never downloads a browser here), docker-compose validates docker-compose.yml,
# prometheus and prometheus-alertmanager are the real peers of the remote_write and
# Alertmanager receivers; prometheus (with promtool) and prometheus-node-exporter are the
# references the query and host benchmarks measure;
# unbound is the fast local DNS server the DNSBL benchmark queries.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q

# One package per line, so changes merge cleanly.
TEST_DEBS := \
	chromium \
	docker-compose \
	prometheus \
	prometheus-alertmanager

test-deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { $(APT_INSTALL) $$missing; }

bench-deps:
	@command -v unbound >/dev/null || test -x /usr/sbin/unbound || { $(APT_INSTALL) unbound; }
	@test -x /usr/bin/prometheus && test -x /usr/bin/promtool && test -x /usr/bin/prometheus-node-exporter || { $(APT_INSTALL) prometheus prometheus-node-exporter; }

test: $(STAMP) test-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -p no:randomly

# The query engine against numpy with many more random queries than `make test` runs (~60).
test-query-properties: $(STAMP)
	HYPOTHESIS_PROFILE=query-long $(BIN)/pytest -p no:randomly tests/collectors/test_query_properties.py

# PromQL against a real Prometheus at more instants and steps than `make test` asks.
test-promql-long: $(STAMP) test-deps
	PENGUINMON_PROMQL_LONG=1 $(BIN)/pytest -p no:randomly tests/collectors/test_promql_conformance.py

# The long schemathesis run (make test runs a short one): every API operation, valid and
# invalid input, all checks, against a live server with an admin token.
fuzz: $(STAMP)
	PENGUINMON_FUZZ_EXAMPLES=$${PENGUINMON_FUZZ_EXAMPLES:-100} $(BIN)/pytest -p no:randomly -s tests/penguinmon/test_api_fuzz.py

bench: $(STAMP) bench-deps
	$(BIN)/python -m benchmarks.run

stop:
	-$(BIN)/python -m penguinmon.embedded stop

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .
