"""``leaderboard`` always returns the table; ``leaderboard_fit`` returns ``(table, fit)``
(issue 11: no keyword changes the return type)."""

import inspect
import warnings

import pandas as pd
import pytest

import debias
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

MINIMAL = dict(preset="length_controlled_minimal", difficulty="none")


@pytest.fixture(scope="module")
def comps():
    return simulate(n_models=3, n_instructions=80, seed=2).comparisons


def test_leaderboard_returns_the_table_of_leaderboard_fit(comps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = debias.leaderboard(comps, **MINIMAL)
        pair = debias.leaderboard_fit(comps, **MINIMAL)
    assert isinstance(table, pd.DataFrame)
    assert isinstance(pair, tuple) and len(pair) == 2
    fitted_table, fit = pair
    assert isinstance(fit, PreferenceGLM) and fit.baseline_ == comps.baselines[0]
    pd.testing.assert_frame_equal(table, fitted_table)


def test_no_keyword_changes_the_return_type(comps):
    assert "return_fit" not in inspect.signature(debias.leaderboard).parameters
    with pytest.raises(TypeError, match="return_fit"):
        debias.leaderboard(comps, return_fit=True, **MINIMAL)
    # leaderboard shows leaderboard_fit's keywords (help(), IDEs)
    assert list(inspect.signature(debias.leaderboard).parameters) == list(
        inspect.signature(debias.leaderboard_fit).parameters
    )
