"""Shared fixtures: small simulations and the optional AlpacaEval data pack."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from debias.simulate import simulate

DATA_ENV = "DEBIAS_ALPACA_EVAL_DIR"
DATA = os.environ.get(DATA_ENV)
HAVE_DATA = bool(DATA) and Path(DATA).is_dir()
needs_data = pytest.mark.skipif(
    not HAVE_DATA,
    reason=f"AlpacaEval data pack not found: set {DATA_ENV} to ../shared/alpaca_eval (.ci/run does this)",
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

JUDGES_ENV = "DEBIAS_JUDGES_DIR"
JUDGES = os.environ.get(JUDGES_ENV)
HAVE_JUDGES = bool(JUDGES) and Path(JUDGES).is_dir()
needs_judges = pytest.mark.skipif(
    not HAVE_JUDGES,
    reason=f"judges data pack not found: set {JUDGES_ENV} to ../shared/judges (.ci/run does this)",
)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not HAVE_DATA:
        pytest.skip(f"AlpacaEval data pack not found: set {DATA_ENV} to ../shared/alpaca_eval")
    return Path(DATA)


@pytest.fixture(scope="session")
def judges_dir() -> Path:
    """../shared/judges: real verdicts of other judge set-ups (never copied into the project)."""
    if not HAVE_JUDGES:
        pytest.skip(f"judges data pack not found: set {JUDGES_ENV} to ../shared/judges")
    return Path(JUDGES)


@pytest.fixture(scope="session")
def sim():
    """A judge with known length and markdown bias: 6 models x 300 instructions."""
    return simulate(n_models=6, n_instructions=300, seed=11)


@pytest.fixture(scope="session")
def alpaca(data_dir):
    """The 46 local AlpacaEval models (judge weighted_alpaca_eval_gpt4_turbo)."""
    from debias.io import read_alpaca_eval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_alpaca_eval(data_dir, judge="weighted_alpaca_eval_gpt4_turbo")
