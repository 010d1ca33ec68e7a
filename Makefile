# Two entry points for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS_DEMO := bench,nlp,dashboard
EXTRAS_TEST := dev,bench,nlp,dashboard,report,apply,distributed
SOURCES := advisor tests benchmarks dashboards

.PHONY: demo test check test-fast lint typecheck bench dashboard clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$(EXTRAS_DEMO)]'
	touch $@

$(VENV)/.stamp-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$(EXTRAS_TEST)]'
	touch $@

## demo: install advisor, measure the two reference models (a short real bench), then recommend the
## bundled demo scenario and print what to run and what it saves; then the same for a language model on the
## tiny-llm reference server, in $/M tokens (store: .advisor/advisor.db).
demo: $(VENV)/.stamp-demo
	$(BIN)/advisor recommend examples/demo-scenario.yaml --bench
	$(BIN)/advisor recommend examples/demo-llm.yaml --bench

## test: install the dev extras (and, as root, Debian's Chromium and Prometheus for the tests that drive them),
## run format, lint, types and the whole test suite: three processes side by side (one module's tests stay on
## one process, sharing its server or browser; many wait on servers, subprocesses and timeouts, so a third
## keeps two CPUs busy), then the tests marked load alone, so that nothing else competes for the CPUs they
## measure with.
test: $(VENV)/.stamp-test
	bash .ci/packages.sh
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/mypy advisor tests
	$(BIN)/python -m pytest -m "not load" -n 3 --dist loadfile
	$(BIN)/python -m pytest -m load

## check: the fast check, run before every commit (under 3 minutes on 2 cores, cold): format and lint, then
## types and the fast tests side by side. The fast tests are those not marked slow: no model server, load
## test, browser, moto server, notebook kernel or wheel build (`make test` runs those too).
check: $(VENV)/.stamp-test
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/ruff check $(SOURCES)
	$(MAKE) --no-print-directory -j2 --output-sync=target typecheck test-fast

# Every test under tests/integration/ is slow (tests/conftest.py), so only unit/ and e2e/ are collected.
test-fast: $(VENV)/.stamp-test
	$(BIN)/python -m pytest -m "not slow" -q tests/unit tests/e2e

## dashboard: open the dashboard over the store `make demo` left (http://127.0.0.1:8501).
dashboard: $(VENV)/.stamp-demo
	$(BIN)/advisor dashboard

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(VENV)/.stamp-test
	$(BIN)/mypy advisor tests

bench: $(VENV)/.stamp-test
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .advisor .pytest_cache .mypy_cache .ruff_cache build
