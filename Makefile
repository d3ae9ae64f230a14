# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the AlpacaEval data pack, when it sits beside the project (tests that need it skip otherwise)
DEBIAS_ALPACA_EVAL_DIR ?= $(abspath $(wildcard ../shared/alpaca_eval))
export DEBIAS_ALPACA_EVAL_DIR
export MPLBACKEND ?= Agg

.PHONY: demo test lint fixtures benchmark coverage-study golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/debias demo --out debias-demo

test: $(STAMP)
	$(BIN)/ruff check debias tests benchmarks fixtures
	$(BIN)/ruff format --check debias tests benchmarks fixtures
	$(BIN)/python -m pytest --doctest-modules debias tests
	$(BIN)/python -m pytest --nbmake notebooks -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check --fix debias tests benchmarks fixtures
	$(BIN)/ruff format debias tests benchmarks fixtures

fixtures: $(STAMP)
	$(BIN)/python fixtures/make_fixtures.py

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py

coverage-study: $(STAMP)
	$(BIN)/python benchmarks/coverage_study.py

clean:
	rm -rf $(VENV) debias-demo .pytest_cache .ruff_cache

golden: $(STAMP)
	$(BIN)/python tests/golden/golden_master.py --update
