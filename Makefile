# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the AlpacaEval data pack, when it sits beside the project (tests that need it skip otherwise)
DEBIAS_ALPACA_EVAL_DIR ?= $(abspath $(wildcard ../shared/alpaca_eval))
export DEBIAS_ALPACA_EVAL_DIR
# the judges data pack (Arena-Hard, MT-Bench both orders, Vicuna-80, Arena-Bench), likewise
DEBIAS_JUDGES_DIR ?= $(abspath $(wildcard ../shared/judges))
export DEBIAS_JUDGES_DIR
# tests draw headless; the notebooks run with the inline backend (`%matplotlib inline`),
# so that their figures are in the executed copies
TEST_BACKEND ?= Agg

.PHONY: demo test lint fixtures benchmark coverage-study golden docs gallery clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/debias demo --out debias-demo

test: $(STAMP)
	$(BIN)/ruff check debias tests benchmarks fixtures docs
	$(BIN)/ruff format --check debias tests benchmarks fixtures docs
	MPLBACKEND=$(TEST_BACKEND) $(BIN)/python -m pytest --doctest-modules debias tests
	env -u MPLBACKEND $(BIN)/python -m pytest --nbmake notebooks -p no:cacheprovider

# the documentation site: API reference and executed notebooks in docs/_build/ (no network)
docs: $(STAMP)
	env -u MPLBACKEND $(BIN)/python docs/build.py

# the README's plot gallery (docs/gallery/*.png) from the committed simulated fixture
gallery: $(STAMP)
	$(BIN)/python docs/make_gallery.py

lint: $(STAMP)
	$(BIN)/ruff check --fix debias tests benchmarks fixtures docs
	$(BIN)/ruff format debias tests benchmarks fixtures docs

fixtures: $(STAMP)
	$(BIN)/python fixtures/make_fixtures.py

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py

coverage-study: $(STAMP)
	$(BIN)/python benchmarks/coverage_study.py

clean:
	rm -rf $(VENV) debias-demo .pytest_cache .ruff_cache docs/_build

golden: $(STAMP)
	$(BIN)/python tests/golden/golden_master.py --update
