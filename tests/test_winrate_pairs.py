"""Intervals of the controlled win rate of every pair of models (winrate_pairs).

The sandwich standard errors are checked against an independent ground truth: the
spread of the estimates over a bootstrap of instructions (each replicate refitted).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from debias import Comparisons, Difficulty
from debias.counterfactual import (
    SAME_MODEL_NOTE,
    avg_predictions,
    ratio,
    winrate_matrix,
    winrate_pairs,
)
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

MINIMAL = dict(preset="length_controlled_minimal", difficulty="none")


def _fit(comps, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PreferenceGLM(**kw).fit(comps)


@pytest.fixture(scope="module")
def sim():
    return simulate(n_models=3, n_instructions=200, seed=11)


@pytest.fixture(scope="module")
def fit(sim):
    return _fit(sim.comparisons, **MINIMAL)


def _resample(data: pd.DataFrame, rng, difficulty: pd.Series) -> tuple[Comparisons, Difficulty]:
    """Instructions drawn with replacement; a repeated instruction becomes a new cluster
    (with its known difficulty)."""
    instr = data["instruction"].unique()
    drawn = rng.choice(instr, size=len(instr), replace=True)
    parts, gamma = [], {}
    for k, x in enumerate(drawn):
        rows = data[data["instruction"] == x].copy()
        rows["instruction"] = f"{x} #{k}"
        gamma[f"{x} #{k}"] = difficulty[x]
        parts.append(rows)
    known = Difficulty(pd.Series(gamma), source="known")
    return Comparisons(pd.concat(parts, ignore_index=True)), known


@pytest.mark.parametrize("known_difficulty", [False, True])
def test_sandwich_standard_errors_match_a_bootstrap_of_instructions(sim, known_difficulty):
    """Without difficulty every instruction has the same counterfactual prediction; with a
    known difficulty the predictions vary by instruction, so the average's own sampling
    term counts too."""
    if known_difficulty:
        model = dict(preset="length_controlled_noreg")
        model["difficulty"] = Difficulty(sim.difficulty, source="known")
    else:
        model = MINIMAL
    fit = _fit(sim.comparisons, **model)
    t = winrate_pairs(fit).set_index(["model", "opponent"])
    rng = np.random.default_rng(0)
    names = list(fit.models_)
    reps = []
    for _ in range(100):
        comps, known = _resample(sim.comparisons.data, rng, sim.difficulty)
        refit = _fit(comps, **{**model, "difficulty": known} if known_difficulty else model)
        reps.append(winrate_matrix(refit, names).to_numpy() / 100)
    boot_se = np.std(np.array(reps), axis=0, ddof=1)
    checked = 0
    for a, i in enumerate(names):
        for b, j in enumerate(names):
            if i == j:
                continue
            se = t.loc[(i, j), "std_error"]
            # 100 replicates: the bootstrap SE itself is known to about 7%
            assert se == pytest.approx(boot_se[a, b], rel=0.2), (i, j, se, boot_se[a, b])
            checked += 1
    assert checked == len(names) * (len(names) - 1)


def test_identity_symmetry_and_the_square_matrix(fit):
    t = winrate_pairs(fit, at={"length": ratio(1.3)})
    same = t[t["model"] == t["opponent"]]
    assert (same["estimate"] == 0.5).all() and same["std_error"].isna().all()
    assert (same["note"] == SAME_MODEL_NOTE).all()
    other = t[t["model"] != t["opponent"]].set_index(["model", "opponent"])
    for (i, j), row in other.iterrows():
        back = other.loc[(j, i)]
        assert 100 * row["estimate"] + 100 * back["estimate"] == pytest.approx(100, abs=1e-12)
        assert row["std_error"] == back["std_error"] > 0
        assert row["conf_low"] < row["estimate"] < row["conf_high"]
        assert row["conf_low"] == pytest.approx(1 - back["conf_high"], abs=1e-12)
    square = winrate_matrix(fit, at={"length": ratio(1.3)})
    pivot = t.pivot(index="model", columns="opponent", values="estimate") * 100
    pivot = pivot.loc[square.index, square.columns]
    np.testing.assert_allclose(pivot.to_numpy(), square.to_numpy(), atol=1e-9)


def test_against_the_baseline_equals_the_leaderboard_interval(sim):
    """With the difficulty estimated (two-stage influence), the column of the fit's
    baseline is each model's controlled win rate with avg_predictions' interval."""
    fit = _fit(sim.comparisons, preset="length_controlled_noreg")
    t = winrate_pairs(fit)
    col = t[t["opponent"] == fit.baseline_].set_index("model")
    lc = avg_predictions(fit).set_index("model")
    models = [m for m in fit.models_ if m != fit.baseline_]
    np.testing.assert_allclose(col.loc[models, "estimate"], lc.loc[models, "estimate"], atol=1e-12)
    np.testing.assert_allclose(col.loc[models, "std_error"], lc.loc[models, "std_error"], rtol=1e-9)


def test_unsupported_and_penalised_fits_have_no_interval_with_a_reason(sim):
    data = sim.comparisons.data
    model = [m for m in sim.comparisons.models if m not in sim.comparisons.baselines][0]
    few = data[(data["model"] != model) | (data.groupby("model").cumcount() < 8)]
    fit = _fit(Comparisons(few), **MINIMAL)
    t = winrate_pairs(fit)
    bad = t[(t["model"] == model) & (t["opponent"] != model)]
    assert bad["estimate"].isna().all()
    assert bad["note"].str.contains("too few judgments").all()
    l1 = _fit(sim.comparisons, **MINIMAL, penalty="l1", alpha=0.01, solver="cvxpy")
    t = winrate_pairs(l1)
    pairs = t[t["model"] != t["opponent"]]
    assert pairs["estimate"].notna().all() and pairs["std_error"].isna().all()
    assert pairs["note"].str.contains("L1 penalty").all()
