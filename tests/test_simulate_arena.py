"""The simulated Arena draws what it says it draws (checked independently of debias's fits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from debias.errors import ParameterError
from debias.simulate.arena import ARENA_FEATURES, simulate_arena, style_transform


@pytest.fixture(scope="module")
def sim():
    return simulate_arena(n_models=12, n_prompts=5_000, n_battles=120_000, seed=11)


def test_layout_matches_the_battles_view(sim):
    b = sim.battles
    assert list(b.columns[:9]) == [
        "judge", "prompt", "turn", "model_a", "model_b", "outcome", "weight", "shown_first", "pair",
    ]  # fmt: skip
    for f in ARENA_FEATURES:
        assert (b[f"{f}_a"] >= 0).all() and (b[f"{f}_b"] >= 0).all()
    assert (b["tokens_a"] >= 1).all()
    assert set(np.unique(b["outcome"])) <= {0.0, 1.0}
    assert (b["model_a"] != b["model_b"]).all()
    assert b["prompt"].nunique() <= 5_000
    assert abs(sim.truth_strengths.sum()) < 1e-12
    # a pair id per unordered pair of models
    key = pd.Series(
        [
            tuple(sorted(p))
            for p in zip(b["model_a"].astype(str), b["model_b"].astype(str), strict=True)
        ]
    )
    assert key.groupby(b["pair"].to_numpy()).nunique().eq(1).all()
    assert pd.Series(b["pair"].to_numpy()).groupby(key.to_numpy()).nunique().eq(1).all()


def test_empirical_win_rates_match_the_stated_probabilities(sim):
    """Binned by the stated P(A wins), the observed rate of A's wins is within binomial noise."""
    p = sim.probabilities()["p_a"].to_numpy()
    won = sim.battles["outcome"].to_numpy()
    bins = np.quantile(p, np.linspace(0, 1, 21))
    which = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 19)
    for k in range(20):
        sel = which == k
        expected = p[sel].mean()
        se = np.sqrt(np.sum(p[sel] * (1 - p[sel]))) / sel.sum()
        assert abs(won[sel].mean() - expected) < 4.5 * se, (k, won[sel].mean(), expected)


def test_statsmodels_logit_recovers_the_truth(sim):
    """An independent maximum-likelihood fit (statsmodels) covers the stated θ and β."""
    b = sim.battles
    models = list(sim.truth_strengths.index)
    a = b["model_a"].cat.codes.to_numpy()
    bb = b["model_b"].cat.codes.to_numpy()
    n, m = len(b), len(models)
    design = np.zeros((n, m))
    design[np.arange(n), a] += 1.0
    design[np.arange(n), bb] -= 1.0
    x = sim.covariates().to_numpy()
    exog = np.column_stack([design[:, 1:], x])  # model_0 is the reference
    fit = sm.Logit(b["outcome"].to_numpy(), exog).fit(disp=0)
    truth = np.concatenate(
        [
            (sim.truth_strengths - sim.truth_strengths.iloc[0]).to_numpy()[1:],
            [sim.truth_style[f] for f in sim.features],
        ]
    )
    z = (fit.params - truth) / fit.bse
    assert np.all(np.abs(z) < 4.5), z
    # scaled covariates: the coefficient per SD is truth_style_scaled
    sd = x.std(axis=0)
    scaled = sim.truth_style_scaled()
    np.testing.assert_allclose([scaled[f] for f in sim.features], truth[m - 1 :] * sd)


def test_constant_tie_rate():
    sim = simulate_arena(n_models=5, n_battles=40_000, tie_rate=0.3, seed=3)
    ties = (sim.battles["outcome"] == 0.5).mean()
    assert abs(ties - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 40_000)
    # given no tie, A wins with σ(η)
    decided = sim.battles["outcome"] != 0.5
    p = sim.probabilities()
    cond = (p["p_a"] / (p["p_a"] + p["p_b"]))[decided]
    won = sim.battles["outcome"][decided]
    assert abs(won.mean() - cond.mean()) < 4 * np.sqrt((cond * (1 - cond)).sum()) / decided.sum()


def test_davidson_ties_between_equal_answers():
    sim = simulate_arena(
        n_models=2, n_battles=50_000, tie_rate=0.25, tie_model="davidson", strength_sd=0.0,
        style_effects={"tokens": 0.0}, seed=4,
    )  # fmt: skip
    ties = (sim.battles["outcome"] == 0.5).mean()
    assert abs(ties - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 50_000)
    probs = sim.probabilities().to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # Davidson: P(tie) = ν sqrt(P(A) P(B)) with ν = 2r/(1-r)
    sim2 = simulate_arena(n_models=6, n_battles=2_000, tie_rate=0.25, tie_model="davidson", seed=5)
    p = sim2.probabilities()
    np.testing.assert_allclose(p["p_tie"], (2 * 0.25 / 0.75) * np.sqrt(p["p_a"] * p["p_b"]))


def test_pair_frequencies_skewed_or_uniform():
    flat = simulate_arena(n_models=10, n_battles=45_000, pair_skew=0.0, seed=6).battles
    counts = flat.groupby("pair").size().to_numpy()
    assert len(counts) == 45
    assert stats.chisquare(counts).pvalue > 1e-4
    skewed = simulate_arena(n_models=40, n_battles=200_000, pair_skew=1.0, seed=6).battles
    counts = skewed.groupby("pair").size()
    assert counts.max() > 30 * counts.median()


def test_answers_follow_each_models_verbosity():
    sim = simulate_arena(n_models=8, n_battles=80_000, seed=7)
    b = sim.battles
    tokens = pd.concat(
        [
            pd.DataFrame({"model": b["model_a"].astype(str), "t": b["tokens_a"]}),
            pd.DataFrame({"model": b["model_b"].astype(str), "t": b["tokens_b"]}),
        ]
    )
    observed = tokens.groupby("model")["t"].mean()
    expected = sim.models.set_index("model")["mean_tokens"]
    np.testing.assert_allclose(observed[expected.index], expected, rtol=0.05)
    headers = pd.concat(
        [
            pd.DataFrame({"model": b["model_a"].astype(str), "h": b["headers_a"], "t": b["tokens_a"]}),
            pd.DataFrame({"model": b["model_b"].astype(str), "h": b["headers_b"], "t": b["tokens_b"]}),
        ]
    ).groupby("model")[["h", "t"]].sum()  # fmt: skip
    per_1k = 1000 * headers["h"] / headers["t"]
    np.testing.assert_allclose(
        per_1k[expected.index], sim.models.set_index("model")["headers_per_1k"], rtol=0.15
    )


def test_reproducible_and_scaled_truth():
    one = simulate_arena(n_models=4, n_battles=500, seed=9)
    two = simulate_arena(n_models=4, n_battles=500, seed=9)
    pd.testing.assert_frame_equal(one.battles, two.battles)
    assert set(one.truth_style) == set(ARENA_FEATURES)
    assert style_transform([3], [1])[0] == pytest.approx(2 / 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_models": 1}, "'n_models' parameter must be an int >= 2"),
        ({"n_battles": 0}, "'n_battles'"),
        ({"n_prompts": 0}, "'n_prompts'"),
        ({"tie_rate": 1.0}, "'tie_rate'"),
        ({"tie_model": "rao"}, "'tie_model'"),
        ({"pair_skew": -1}, "'pair_skew'"),
        ({"style_effects": {"emoji": 1.0}}, "unknown feature"),
        ({"style_effects": {"tokens": float("nan")}}, "style_effects"),
        ({"verbosity_range": (0, 10)}, "'verbosity_range'"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        simulate_arena(**kwargs)
