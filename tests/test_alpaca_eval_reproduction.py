"""Reproduce the published AlpacaEval 2.0 LC win rates from the data pack (skips without it)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from debias.io import read_leaderboard
from debias.model.difficulty import Difficulty
from debias.model.glm import PreferenceGLM
from debias.reports.leaderboard import leaderboard

pytestmark = pytest.mark.alpaca_eval

MISSING_ROWS = {
    "gpt35_turbo_instruct",
    "text_davinci_001",
    "alpaca-7b_verbose",
    "alpaca-7b_concise",
}


@pytest.fixture(scope="module")
def published(data_dir):
    lb = read_leaderboard(
        data_dir / "leaderboards" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
    )
    return lb.set_index("model")["length_controlled_winrate"]


@pytest.fixture(scope="module")
def inputs(data_dir):
    return dict(
        difficulty=data_dir / "derived" / "instruction_difficulty.csv",
        regularize=data_dir / "derived" / "df_gamed_surrogate.csv",
    )


def _diff(table, published):
    return (table.set_index("model")["lc_win_rate"] - published).dropna().abs()


def test_compat_reproduces_published(alpaca, inputs, published):
    table = leaderboard(alpaca, compat="alpaca_eval", se="sem", **inputs)
    d = _diff(table, published)
    assert len(d) == 45  # text_davinci_003 is not in the published table
    assert d.max() <= 0.2 and d.median() <= 0.01, d.sort_values().tail()


def test_default_reproduces_published_up_to_the_positional_defect(alpaca, inputs, published):
    by_position = _diff(leaderboard(alpaca, difficulty_join="position", **inputs), published)
    assert by_position.max() <= 0.25 and by_position.median() <= 0.05
    by_instruction = _diff(leaderboard(alpaca, **inputs), published)
    off = set(by_instruction[by_instruction > 0.25].index)
    # the published numbers joined γ by row position: only models with missing rows move
    assert off <= MISSING_ROWS and off, by_instruction.sort_values().tail()
    assert by_instruction.drop(list(MISSING_ROWS), errors="ignore").max() <= 0.25


def test_gpt4_gamed_regularisation(alpaca, inputs):
    gamed = alpaca.select(models=["gpt4_gamed", "gpt4_1106_preview"])
    expected = {0.0: 25.9, 0.2: 12.2, 0.5: 9.9}
    for lam, target in expected.items():
        preset = "length_controlled_noreg" if lam == 0 else "length_controlled_v1"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = leaderboard(
                gamed, preset=preset, lam=lam or None, difficulty_join="position", **inputs
            ).set_index("model")
        assert abs(t.loc["gpt4_gamed", "lc_win_rate"] - target) < 1.0, (lam, t.loc["gpt4_gamed"])


def test_stage1_on_local_models_correlates_with_published(alpaca, data_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = PreferenceGLM(preset="length_controlled_noreg").fit(alpaca)
    pub = Difficulty.from_csv(
        data_dir / "derived" / "instruction_difficulty.csv", alpaca.instruction_order
    )
    est = fit.difficulty_.values
    assert len(est) == 805
    assert np.corrcoef(est, pub.lookup(est.index))[0, 1] >= 0.85


def test_raw_win_rates_match_published(alpaca, data_dir):
    lb = read_leaderboard(
        data_dir / "leaderboards" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
    )
    raw = alpaca.win_rates().set_index("model")["win_rate"]
    d = (raw - lb.set_index("model")["win_rate"]).dropna().abs()
    assert d.max() < 1e-6 and len(d) == 45
    assert isinstance(raw, pd.Series)
