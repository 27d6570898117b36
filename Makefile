# convstream — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The install also compiles the C extension (pyproject.toml ext-modules): a change to its source reinstalls.
STAMP_INPUTS := pyproject.toml constraints.txt consumer/codec/_avroread.c
STAMP := $(VENV)/.installed-$(shell cat $(STAMP_INPUTS) 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: help install devstack-up devstack-down lint typecheck unit test demo bench clean helm chaos audit

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): $(STAMP_INPUTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv with the pinned dependencies

devstack-up: install ## start Kafka, the schema registry, Postgres and Prometheus locally (no Docker)
	scripts/devstack up

devstack-down: ## stop the local services
	scripts/devstack down

lint: install ## ruff on the code and the tests
	$(VENV)/bin/ruff check consumer tests scripts bench
	$(VENV)/bin/ruff format --check consumer

typecheck: install ## mypy --strict on consumer/, tests/ (relaxed: unannotated helpers allowed), bench/, scripts/
	$(VENV)/bin/mypy

unit: install ## unit tests only (nothing external)
	CONVSTREAM_REQUIRE_CEXT=1 $(VENV)/bin/pytest tests/unit -q

test: install devstack-up lint typecheck ## everything CI runs: lint, types, unit, integration, e2e, chaos (bounded)
	CONVSTREAM_REQUIRE_CEXT=1 CONVSTREAM_HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest -q -p no:cacheprovider tests/unit tests/deploy tests/integration tests/e2e tests/bench tests/chaos

chaos: install devstack-up ## the chaos suite at full length (tests/chaos, CONVSTREAM_CHAOS=full) and its results table
	CONVSTREAM_CHAOS=full $(VENV)/bin/pytest -q -p no:cacheprovider tests/chaos

demo: devstack-up ## the main job on the local stack, with a live progress line
	$(PY) -m consumer.cli demo

bench: devstack-up ## the benchmark harness (bench/; BENCH_ARGS=--quick for the < 2 min run)
	$(PY) -m bench $(BENCH_ARGS)

clean: ## remove caches (not the downloaded service jars)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info

helm: install ## build the pinned helm (.cache/bin, first time: minutes), lint + check the chart offline
	scripts/helm.sh version --short
	scripts/helm.sh lint helm/convstream --strict --kube-version 1.31.0
	$(VENV)/bin/pytest tests/deploy -q -p no:cacheprovider

audit: ## pip-audit of the pinned dependencies (constraints.txt); fails if they could not be audited
	scripts/audit.sh
