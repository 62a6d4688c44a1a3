# PenguinMon. `make run` starts everything on the embedded default; `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus

.PHONY: run test bench stop lint format demo browser-deps clean-db

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	rm -rf $(PROMETHEUS_MULTIPROC_DIR) && mkdir -p $(PROMETHEUS_MULTIPROC_DIR)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap
	$(BIN)/python manage.py load_demo --days 30 --if-empty
	$(BIN)/honcho -f Procfile start

demo: $(STAMP)
	$(BIN)/python manage.py load_demo --days 30

# Debian's chromium drives the browser tests (Playwright never downloads a browser here).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; fi; }

test: $(STAMP) browser-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -p no:randomly

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

stop:
	-$(BIN)/python -m penguinmon.embedded stop

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .
