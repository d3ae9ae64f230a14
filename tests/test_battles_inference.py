"""Inference of the any-pair Bradley–Terry fit (issue 12, item 3): the sandwich clustered by
prompt against statsmodels, the prompt bootstrap (resampling units, determinism, joblib and a
Dask cluster), bootstrap vs sandwich, and the coverage of the controlled strengths on
simulated battles with known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from debias.battles.design import battle_design
from debias.battles.inference import (
    bootstrap,
    meat_from_estimates,
    meat_from_row_scores,
    percentile_interval,
    sandwich,
)
from debias.battles.newton import fit_newton
from debias.battles.results import BattleResults
from debias.errors import InputError, ParameterError
from debias.simulate.arena import simulate_arena


def paired_battles(n_prompts=400, seed=0, models=("a", "b", "c", "d"), rho=0.6, beta=0.7):
    """Battles with both orders per prompt (correlated games: the second repeats the first
    verdict with probability ``rho``, else is drawn afresh, so each game's marginal stays the
    Bradley–Terry probability) and one style covariate ``x`` (signed A minus B)."""
    rng = np.random.default_rng(seed)
    m = len(models)
    strength = np.linspace(0.6, -0.6, m)
    a = rng.integers(m, size=n_prompts)
    b = (a + 1 + rng.integers(m - 1, size=n_prompts)) % m
    x = rng.normal(size=n_prompts)
    p = expit(strength[a] - strength[b] + beta * x)
    first = (rng.random(n_prompts) < p).astype(float)
    fresh = (rng.random(n_prompts) < p).astype(float)
    second = np.where(rng.random(n_prompts) < rho, first, fresh)
    names = np.asarray(models)
    prompt = np.arange(n_prompts).astype(str)
    return pd.DataFrame(
        {
            "prompt": np.concatenate([prompt, prompt]),
            "model_a": np.concatenate([names[a], names[b]]),
            "model_b": np.concatenate([names[b], names[a]]),
            "outcome": np.concatenate([first, 1 - second]),
            "weight": np.concatenate([rng.choice([1.0, 3.0], n_prompts), np.ones(n_prompts)]),
            "x": np.concatenate([x, -x]),
        }
    )


def dummy_design(battles, models, reference):
    """The ±1 design of the free parameters (reference model dropped) plus the covariate."""
    cols = [m for m in models if m != reference]
    X = np.zeros((len(battles), len(cols) + 1))
    for j, name in enumerate(cols):
        X[:, j] = (battles["model_a"] == name).to_numpy(float) - (
            battles["model_b"] == name
        ).to_numpy(float)
    X[:, -1] = battles["x"].to_numpy()
    return X, cols


# --------------------------------------------------------------------------- sandwich
def test_sandwich_equals_statsmodels_cluster_covariance_up_to_its_factor():
    battles = paired_battles(n_prompts=300, seed=1)
    fit = fit_newton(battle_design(battles, covariates=("x",)), identify="d")
    X, cols = dummy_design(battles, fit.design.models, "d")
    glm = sm.GLM(
        battles["outcome"], X, family=sm.families.Binomial(), var_weights=battles["weight"]
    )
    groups = pd.factorize(battles["prompt"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cov_type not fully supported with var_weights"
        res = glm.fit(tol=1e-12, cov_type="cluster", cov_kwds={"groups": groups})
    n, k = X.shape
    # statsmodels' default factor is G/(G-1) * (N-1)/(N-K); ours G/(G-1)
    expected = res.cov_params() / ((n - 1) / (n - k))
    cov = sandwich(fit)
    order = [fit.design.models.index(c) for c in cols] + [len(fit.design.models)]
    np.testing.assert_allclose(cov[np.ix_(order, order)], expected, rtol=1e-6, atol=1e-12)
    # the reference model's strength is fixed at 0: no variance
    ref = fit.design.models.index("d")
    assert np.allclose(cov[ref], 0) and np.allclose(cov[:, ref], 0)


def test_sandwich_under_sum_to_zero_is_the_reference_one_mapped():
    """Identification changes the strengths' covariance, not the differences'."""
    battles = paired_battles(n_prompts=300, seed=2)
    design = battle_design(battles, covariates=("x",))
    ref = sandwich(fit_newton(design, identify="a"))
    s2z = sandwich(fit_newton(design, identify="sum_to_zero"))
    m = len(design.models)
    centre = np.eye(m + 1)
    centre[:m, :m] -= 1 / m  # sum-to-zero strengths = centred reference strengths
    np.testing.assert_allclose(s2z, centre @ ref @ centre.T, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("identify", ["sum_to_zero", "b"])
@pytest.mark.parametrize("l2", [0.0, 3.0])
@pytest.mark.parametrize("covariates", [("x",), ()])
def test_meat_from_estimates_equals_the_row_scores_one(identify, l2, covariates):
    """The fast meat (residuals, no per-row scores) is the contract's row-score meat."""
    battles = paired_battles(n_prompts=200, seed=9)
    battles.loc[battles.index[:40], "outcome"] = 0.5  # ties
    separated = pd.DataFrame(  # a model that never loses: left out of the fit
        {
            "prompt": ["0", "1"],
            "model_a": "e",
            "model_b": "a",
            "outcome": 1.0,
            "weight": 1.0,
            "x": 0.3,
        }
    )
    battles = pd.concat([battles, separated], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_newton(battle_design(battles, covariates=covariates), identify=identify, l2=l2)
    fast, slow = meat_from_estimates(fit), meat_from_row_scores(fit)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)
    cov = sandwich(fit)
    if l2 == 0:  # a penalty keeps the separated strength finite
        assert "e" in fit.problems
        e = fit.design.models.index("e")
        assert np.isnan(cov[e]).all()
        assert np.isfinite(np.delete(np.delete(cov, e, 0), e, 1)).all()


def test_sandwich_for_davidson_and_per_model_slopes_uses_row_scores():
    battles = paired_battles(n_prompts=200, seed=10)
    battles.loc[battles.index[:60], "outcome"] = 0.5
    design = battle_design(battles, covariates=("x",))
    for fit in (fit_newton(design, ties="davidson"), fit_newton(design, per_model_slopes=True)):
        assert meat_from_estimates(fit) is None
        cov = sandwich(fit)
        assert cov.shape == (4 + len(fit.coefficients),) * 2
        assert np.all(np.linalg.eigvalsh(cov) > -1e-12)


def test_sandwich_clusters_by_prompt_not_by_row():
    """Correlated games of a prompt: clustering by prompt gives wider SEs than by row."""
    battles = paired_battles(n_prompts=400, seed=3, rho=0.9)
    by_prompt = sandwich(fit_newton(battle_design(battles, covariates=("x",))))
    by_row = sandwich(fit_newton(battle_design(battles.drop(columns="prompt"), covariates=("x",))))
    assert np.all(np.diag(by_prompt)[:4] > 1.2 * np.diag(by_row)[:4])


# --------------------------------------------------------------------------- bootstrap
class StrengthsRefit:
    """Picklable fit_fn: strengths then coefficients of a reference-identified fit."""

    def __init__(self, models):
        self.models = tuple(models)

    def __call__(self, frame):
        design = battle_design(frame, covariates=("x",), models=self.models)
        fit = fit_newton(design, identify=self.models[-1])
        return np.concatenate([fit.strengths, fit.coefficients])


def test_bootstrap_resamples_prompts_as_weights():
    """A replicate sees whole prompts: every row of a prompt drawn k times has weight × k."""
    battles = paired_battles(n_prompts=50, seed=4)
    seen = []

    def record(frame):
        seen.append(frame)
        return np.zeros(1)

    bootstrap(record, battles, n_boot=3, seed=0)
    for frame in seen:
        ratio = frame["weight"] / battles.loc[frame.index, "weight"]
        per_prompt = ratio.groupby(frame["prompt"]).nunique()
        assert (per_prompt == 1).all()  # both games of a prompt carry the same count
        assert np.allclose(ratio, np.round(ratio)) and ratio.min() >= 1
        drawn = ratio.groupby(frame["prompt"]).first().sum()
        assert drawn == battles["prompt"].nunique()  # as many prompts drawn as there are


def test_bootstrap_does_not_depend_on_n_jobs_and_keeps_input():
    battles = paired_battles(n_prompts=120, seed=5)
    before = battles.copy()
    refit = StrengthsRefit(("a", "b", "c", "d"))
    one = bootstrap(refit, battles, n_boot=6, seed=11, n_jobs=1)
    two = bootstrap(refit, battles, n_boot=6, seed=11, n_jobs=2)
    np.testing.assert_allclose(one, two, rtol=1e-12)  # BLAS threads may differ per worker
    assert not np.array_equal(one, bootstrap(refit, battles, n_boot=6, seed=12))
    pd.testing.assert_frame_equal(battles, before)


def test_bootstrap_agrees_with_sandwich_within_20_percent():
    battles = paired_battles(n_prompts=600, seed=6)
    models = ("a", "b", "c", "d")
    fit = fit_newton(battle_design(battles, covariates=("x",), models=models), identify="d")
    reps = bootstrap(StrengthsRefit(models), battles, n_boot=300, seed=0)
    boot_se = np.nanstd(reps, axis=0, ddof=1)
    wald_se = np.sqrt(np.diag(sandwich(fit)))
    free = [0, 1, 2, 4]  # d is the reference (0, no spread)
    ratio = boot_se[free] / wald_se[free]
    assert np.all(np.abs(ratio - 1) < 0.2), ratio


def test_bootstrap_runs_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    import joblib

    battles = paired_battles(n_prompts=80, seed=7)
    refit = StrengthsRefit(("a", "b", "c", "d"))
    local = bootstrap(refit, battles, n_boot=4, seed=3)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_config(backend="dask"):
            remote = bootstrap(refit, battles, n_boot=4, seed=3, n_jobs=-1)
    np.testing.assert_allclose(local, remote, rtol=1e-12)


def test_bootstrap_reports_replicate_warnings_once():
    battles = paired_battles(n_prompts=30, seed=8)

    def noisy(frame):
        warnings.warn(f"replicate of {len(frame)} rows is odd", UserWarning, stacklevel=1)
        return np.zeros(1)

    with pytest.warns(UserWarning, match=r"^5 of 5 bootstrap replicates warned") as rec:
        bootstrap(noisy, battles, n_boot=5, seed=0)
    assert len(rec) == 1


def test_bootstrap_bad_settings_are_one_line():
    battles = paired_battles(n_prompts=10)
    with pytest.raises(ParameterError, match="'n_boot' parameter of bootstrap"):
        bootstrap(np.mean, battles, n_boot=1)
    with pytest.raises(ParameterError, match="'cluster' parameter"):
        bootstrap(np.mean, battles, n_boot=2, cluster="question")
    with pytest.raises(InputError, match="row 3 has no 'prompt'"):
        bootstrap(
            np.mean, battles.assign(prompt=battles["prompt"].mask(battles.index == 3)), n_boot=2
        )


def test_percentile_interval_leaves_out_missing_replicates():
    reps = np.column_stack([np.arange(11.0), np.r_[np.arange(10.0), np.nan]])
    sd, low, high, missing = percentile_interval(reps, 0.8)
    assert low[0] == pytest.approx(1.0) and high[0] == pytest.approx(9.0)
    assert missing.tolist() == [0.0, 1 / 11]


# --------------------------------------------------------------------------- coverage
def coverage_run(seed: int, n_battles: int = 3000) -> np.ndarray:
    """Whether each controlled strength's 95% interval covers the truth (one simulation)."""
    sim = simulate_arena(
        n_models=6, n_prompts=n_battles // 3, n_battles=n_battles, pair_skew=0.5, seed=seed
    )
    battles = pd.concat([sim.battles, sim.covariates()], axis=1)
    design = battle_design(battles, covariates=sim.features)
    table = BattleResults(fit_newton(design), level=0.95).strengths().set_index("model")
    truth = sim.truth_strengths.reindex(table.index)
    return ((table["conf_low"] <= truth) & (truth <= table["conf_high"])).to_numpy()


def test_controlled_strength_intervals_cover_on_simulated_arena():
    """A small version of benchmarks/bt_coverage.py (which measures 93–97% on 400 runs)."""
    covered = np.concatenate([coverage_run(seed) for seed in range(25)])
    assert 0.88 <= covered.mean() <= 0.995, covered.mean()
