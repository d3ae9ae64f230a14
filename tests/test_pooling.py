"""Partial pooling of the slopes: the default without the baseline's variants (issue 10, item 10).

Ground truth: statsmodels' DerSimonian–Laird, a direct maximisation of the REML likelihood,
cvxpy on the same penalised problem, the simulator's known controlled win rates, and the
published AlpacaEval leaderboard.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit

from debias.counterfactual import avg_predictions
from debias.data import Comparisons
from debias.errors import DataWarning, ParameterError
from debias.model.glm import PreferenceGLM
from debias.model.pooling import leave_one_out, random_effects
from debias.model.solvers.cvxpy import fit_cvxpy
from debias.model.solvers.newton import Problem, fit_newton
from debias.simulate import simulate


def _reml_by_optimiser(est, se):
    """τ² maximising the REML likelihood of the normal random-effects model, numerically."""
    v = np.asarray(se) ** 2

    def nll(log_tau2):
        w = 1 / (v + np.exp(log_tau2))
        mu = np.sum(w * est) / np.sum(w)
        return 0.5 * (np.sum(np.log(v + np.exp(log_tau2)) + w * (est - mu) ** 2) + np.log(w.sum()))

    t2 = np.exp(minimize_scalar(nll, bounds=(-20, 3), method="bounded", options={"xatol": 1e-10}).x)
    w = 1 / (v + t2)
    return np.sum(w * est) / np.sum(w), t2


def test_random_effects_match_statsmodels_and_the_reml_likelihood():
    from statsmodels.stats.meta_analysis import combine_effects

    rng = np.random.default_rng(0)
    se = rng.uniform(0.1, 0.6, 30)
    est = 2.0 + rng.normal(0, 0.5, 30) + rng.normal(0, se)
    sm = combine_effects(est, se**2, method_re="chi2")  # DerSimonian–Laird
    mu, tau2 = random_effects(est, se, method="dl")
    assert tau2 == pytest.approx(sm.tau2, rel=1e-10)
    assert mu == pytest.approx(sm.mean_effect_re, rel=1e-10)
    mu_ref, tau2_ref = _reml_by_optimiser(est, se)
    mu, tau2 = random_effects(est, se)
    assert tau2 == pytest.approx(tau2_ref, rel=1e-5)
    assert mu == pytest.approx(mu_ref, rel=1e-6)


def test_leave_one_out_is_each_models_others():
    rng = np.random.default_rng(1)
    se = rng.uniform(0.1, 0.4, 12)
    est = rng.normal(1.0, 0.6, 12)
    est[3] = 9.0  # an outlier does not widen its own prior
    mu, tau2 = leave_one_out(est, se)
    for m in (0, 3, 11):
        others = np.arange(12) != m
        ref = _reml_by_optimiser(est[others], se[others])
        assert mu[m] == pytest.approx(ref[0], rel=1e-6)
        assert tau2[m] == pytest.approx(ref[1], rel=1e-5, abs=1e-7)
    assert np.sqrt(tau2[3]) < 1.0 < np.sqrt(random_effects(est, se)[1])


def test_newton_per_coefficient_penalty_matches_cvxpy():
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(300), np.tanh(rng.normal(size=300)), rng.normal(size=300)])
    y = (rng.random(300) < expit(X @ [0.3, 3.0, 1.0])).astype(float)
    l2 = np.array([0.0, 4.0, 30.0])
    center = np.array([0.0, 1.0, 1.5])
    mask = np.array([False, True, True])
    res = fit_newton(
        Problem(X, y, np.ones(300), np.zeros(300, int), 1), l2=l2, center=center, penalize=mask
    )
    ref = fit_cvxpy(X, y, np.ones(300), l2=l2, center=center, penalize=mask)

    def objective(b):
        eta = X @ b
        return np.sum(np.logaddexp(0, eta) - y * eta) + np.sum(l2 * (b - center) ** 2)

    direct = minimize(objective, np.zeros(3), method="BFGS", options={"gtol": 1e-10}).x
    assert np.allclose(res.coef[0], ref, atol=1e-6)
    assert np.allclose(res.coef[0], direct, atol=1e-5)


def _with_attack(sim, seed_model=-2):
    """The simulated judgments plus a truncation attack on one model's outputs.

    Like AlpacaEval's gpt4_gamed: the answers are cut to 10 characters except where they
    were longer than the baseline's and won; a cut answer loses (preference 0.02).
    """
    d = sim.comparisons.data
    src = d[d.model == sim.truth.sort_values("theta").model.iloc[seed_model]].copy()
    keep = (src.output_model.str.len() > src.output_baseline.str.len()) & (src.preference > 0.5)
    src.loc[~keep, "output_model"] = src.loc[~keep, "output_model"].str[:10]
    src.loc[~keep, "preference"] = 0.02
    src["model"] = "gamed"
    return Comparisons.from_dataframe(pd.concat([d, src], ignore_index=True))


def _lc(fit):
    return avg_predictions(fit).set_index("model")


@pytest.fixture(scope="module")
def attacked():
    sim = simulate(n_models=8, n_instructions=400, seed=5, markdown_effect=0.0)
    return sim, _with_attack(sim)


def test_default_pools_without_variants_and_resists_the_truncation_attack(attacked):
    sim, comps = attacked
    raw = comps.win_rates().set_index("model").loc["gamed", "win_rate"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noreg = PreferenceGLM(preset="length_controlled_noreg").fit(comps)
    default = PreferenceGLM().fit(comps)  # no warning: pooling is the designed default
    assert default.pool_ and default.regularization_ is None
    table = default.pooling_.table(default.columns_)
    assert list(table.index) == ["tanh(scaled(length))", "difficulty"]
    # the attack's prior comes from the honest models only: centred on the true slope 0.8
    gamed = default.pooling_.mean[list(default.params_.index[1:]).index("gamed")]
    assert gamed[1] == pytest.approx(0.8, abs=0.15)
    lc_noreg = 100 * _lc(noreg).loc["gamed", "estimate"]
    lc_pooled = 100 * _lc(default).loc["gamed", "estimate"]
    # unpooled, the attack's slope runs away and its LC nearly doubles its raw win rate
    assert noreg.params_.loc["gamed", "tanh(scaled(length))"] > 3
    assert lc_noreg > raw + 15
    assert default.params_.loc["gamed", "tanh(scaled(length))"] < 1.5
    assert lc_pooled < raw + 8


def test_pooling_does_not_bias_honest_models(attacked):
    sim, comps = attacked
    truth = sim.truth.set_index("model")["true_lc_win_rate"]
    honest = [m for m in truth.index if m != sim.comparisons.baselines[0]]
    pooled = 100 * _lc(PreferenceGLM().fit(comps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noreg = 100 * _lc(PreferenceGLM(preset="length_controlled_noreg").fit(comps))
    err_pooled = (pooled.loc[honest, "estimate"] - truth[honest]).abs()
    err_noreg = (noreg.loc[honest, "estimate"] - truth[honest]).abs()
    assert err_pooled.mean() <= err_noreg.mean() + 0.1
    # honest intervals: positive width, and they cover the truth
    width = pooled.loc[honest, "conf_high"] - pooled.loc[honest, "conf_low"]
    assert (width > 0.5).all()
    covered = (pooled.loc[honest, "conf_low"] <= truth[honest]) & (
        truth[honest] <= pooled.loc[honest, "conf_high"]
    )
    assert covered.mean() >= 0.75


def test_variants_keep_the_reference_behaviour(sim):
    base = sim.comparisons.baselines[0]
    d = sim.comparisons.data
    variant = d[d.model == d.model.iloc[0]].assign(model=f"{base}_verbose")
    comps = Comparisons.from_dataframe(pd.concat([d, variant], ignore_index=True))
    fit = PreferenceGLM().fit(comps)
    assert not fit.pool_ and fit.pooling_ is None and fit.regularization_ is not None


def test_too_few_models_warn_and_fit_unregularised():
    comps = simulate(n_models=3, n_instructions=150, seed=2).comparisons
    with pytest.warns(DataWarning, match="needs at least 6 models"):
        fit = PreferenceGLM().fit(comps)
    assert not fit.pool_ and fit.pooling_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        noreg = PreferenceGLM(preset="length_controlled_noreg").fit(comps)
    pd.testing.assert_frame_equal(fit.params_, noreg.params_)


def test_explicit_pool_and_solvers_agree(attacked):
    _, comps = attacked
    newton = PreferenceGLM(regularize="pool", difficulty="none", preset="length_controlled_v1")
    with pytest.raises(ParameterError, match="difficulty"):
        newton.fit(comps)
    kw = dict(formula="tanh(scaled(length))", lam=0.2, regularize="pool", difficulty="none")
    a = PreferenceGLM(**kw).fit(comps)
    b = PreferenceGLM(solver="cvxpy", **kw).fit(comps)
    assert a.pooling_ is not None
    assert np.allclose(a.params_.to_numpy(), b.params_.to_numpy(), atol=1e-5)


def test_bootstrap_reestimates_the_prior(attacked):
    _, comps = attacked
    fit = PreferenceGLM().fit(comps)
    boot = avg_predictions(fit, se="bootstrap", n_boot=30, seed=1).set_index("model")
    sand = avg_predictions(fit).set_index("model")
    base = comps.baselines[0]
    assert np.isfinite(boot.drop(index=base)["std_error"]).all()
    ratio = boot.drop(index=base)["std_error"] / sand.drop(index=base)["std_error"]
    assert ratio.between(0.4, 2.5).all(), ratio


@pytest.mark.alpaca_eval
def test_gpt4_gamed_without_variant_annotations(alpaca, data_dir):
    """Issue 10, item 10: defaults, no variant annotations, no extra files."""
    from scipy.stats import spearmanr

    from debias.io import read_leaderboard

    variants = {"gpt4_1106_preview_verbose", "gpt4_1106_preview_concise"}
    comps = alpaca.select(models=[m for m in alpaca.models if m not in variants])
    fit = PreferenceGLM().fit(comps)
    assert fit.pool_
    lc = 100 * _lc(fit)["estimate"]
    published = read_leaderboard(
        data_dir / "leaderboards" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
    ).set_index("model")["length_controlled_winrate"]
    common = [m for m in lc.index if m in published.index]
    assert len(common) >= 44
    assert lc["gpt4_gamed"] <= 16.0  # published 12.19; 28.2 unpooled
    assert spearmanr(lc[common], published[common]).statistic >= 0.985  # 0.975 unpooled


def test_pooled_covariance_is_the_sandwich_with_the_prior_in_the_meat(attacked):
    """V = B (M + P) B with B = (H + P)^-1, M the score cross-product, P = 1/τ² (by hand)."""
    _, comps = attacked
    kw = dict(formula="tanh(scaled(length))", lam=0.2, difficulty="none")
    fit = PreferenceGLM(**kw).fit(comps)
    assert fit.pooling_ is not None
    for g, m in enumerate(fit.stage2_problem().models):
        res = fit.results_[m]
        X, y = res.design_matrix(), res.y
        p = expit(X @ res.params.to_numpy())
        scores = (y - p)[:, None] * X
        P = np.diag(2 * fit.pooling_.l2[g])
        B = np.linalg.inv((X * (p * (1 - p))[:, None]).T @ X + P)
        expected = B @ (scores.T @ scores + P) @ B
        got = res.cov_params().to_numpy()
        n = len(y) + 1  # clusters: the instructions and the one pooled slope's prior
        assert np.allclose(got, expected * n / (n - 1), rtol=1e-6), m


def test_no_spread_between_models_does_not_claim_a_known_slope():
    """τ̂ = 0 (one judge-wide slope): the prior still carries μ̂'s own uncertainty."""
    comps = simulate(n_models=7, n_instructions=150, seed=1).comparisons
    fit = PreferenceGLM().fit(comps)
    assert fit.pooling_.table(fit.columns_).loc["difficulty", "tau"] == 0.0
    slope_se = fit.results_["model_0"].bse["difficulty"]
    unpooled = PreferenceGLM(preset="length_controlled_noreg").fit(comps)
    se_alone = unpooled.results_["model_0"].bse["difficulty"]
    # about se_alone / sqrt(7): pooled over 7 models, not known to 0.001
    assert se_alone / 5 < slope_se < se_alone
