"""Coefficients and cluster-robust covariances checked against statsmodels.

statsmodels is the independent ground truth here: its ``GLM(Binomial)`` takes soft
labels (fractional endog) and its cluster covariance (``cov_type="cluster"``) applies the
small-sample factor (G/(G−1))·((N−1)/(N−K)); debias applies G/(G−1), so the two
covariances agree once (N−1)/(N−K) is removed. Stage 1 (the joint difficulty fit) is
checked as one GLM with per-model columns and instruction dummies, in both of its
elimination orders (instructions outnumber the model coefficients, or not).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.linalg import block_diag as scipy_block_diag
from scipy.special import expit

from debias.model.difficulty import Difficulty, fit_joint
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

TOL = 1e-8


def _statsmodels_fit(res):
    X, y, w = res.design_matrix(), res.y, res.w
    assert np.all(w == 1), "the simulated rows are unweighted"
    groups = pd.factorize(res.instructions)[0]
    glm = sm.GLM(y, X, family=sm.families.Binomial())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns about non-integer counts
        return glm.fit(tol=1e-14, cov_type="cluster", cov_kwds={"groups": groups})


def _check_against_statsmodels(fit):
    assert fit.results_, "no model was fitted"
    for name, res in fit.results_.items():
        sm_fit = _statsmodels_fit(res)
        n, k = res.design_matrix().shape
        np.testing.assert_allclose(res.params.to_numpy(), sm_fit.params, rtol=0, atol=TOL)
        cov_sm = np.asarray(sm_fit.cov_params()) / ((n - 1) / (n - k))
        cov = res.cov_params().to_numpy()
        scale = np.abs(cov_sm).max()
        assert np.abs(cov - cov_sm).max() <= TOL * max(scale, 1.0), name
        # and not trivially: the sandwich differs from the model-based covariance
        assert np.abs(cov - res.cov_params("model").to_numpy()).max() > 1e-4


def _fit(comparisons, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PreferenceGLM(**kwargs).fit(comparisons)


@pytest.mark.parametrize("soft", [True, False])
def test_no_difficulty_matches_statsmodels_cluster_covariance(soft):
    sim = simulate(n_models=4, n_instructions=150, seed=3, soft=soft, missing_rate=0.1)
    fit = _fit(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    _check_against_statsmodels(fit)


def test_fixed_difficulty_matches_statsmodels_cluster_covariance():
    sim = simulate(n_models=3, n_instructions=120, seed=5, markdown_effect=0.5)
    known = Difficulty(sim.difficulty.rename(None), source="known")
    fit = _fit(sim.comparisons, preset="style_controlled", difficulty=known)
    assert "difficulty" in fit.columns_
    _check_against_statsmodels(fit)


def _joint_data(G, n_instr, k, seed):
    rng = np.random.default_rng(seed)
    m, x = np.repeat(np.arange(G), n_instr), np.tile(np.arange(n_instr), G)
    keep = rng.random(len(m)) < 0.9
    m, x = m[keep], x[keep]
    X = np.c_[np.ones(len(m)), rng.normal(size=(len(m), k - 1))]
    gamma = np.r_[0.0, rng.normal(size=n_instr - 1)]
    eta = np.einsum("ij,ij->i", X, rng.normal(size=(G, k))[m]) + gamma[x]
    y = np.clip(expit(eta) + rng.normal(0, 0.1, len(m)), 0, 1)
    return X, y, m, x


@pytest.mark.parametrize(
    "G, n_instr, k, weighted",
    [(5, 60, 2, False), (15, 20, 2, False), (4, 40, 3, False), (5, 60, 2, True)],
    ids=["instructions-outnumber", "models-outnumber", "three-columns", "weighted"],
)
def test_stage1_matches_statsmodels_dummy_glm(G, n_instr, k, weighted):
    """Weights multiply each row's log-likelihood: statsmodels' var_weights (for the
    binomial with scale 1, the same estimates and model-based SEs as freq_weights)."""
    X, y, m, x = _joint_data(G, n_instr, k, seed=G + n_instr)
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y)) if weighted else np.ones(len(y))
    ref = 2
    jf = fit_joint(X, y, w, m, x, G, n_instr, reference=ref, tol=1e-12)
    assert jf.converged
    blocks = (X[:, None, :] * (m[:, None] == np.arange(G))[:, :, None]).reshape(len(y), G * k)
    others = [i for i in range(n_instr) if i != ref]
    dummies = (x[:, None] == np.array(others)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = np.c_[blocks, dummies]
        sm_fit = sm.GLM(y, design, family=sm.families.Binomial(), var_weights=w).fit(tol=1e-14)
    params = np.asarray(sm_fit.params)
    # model-based SEs at statsmodels' optimum (its own bse uses the weights of the IRLS step
    # before the last one: off by ~1e-8 relative where an SE is large)
    p = expit(design @ params)
    bse = np.sqrt(np.diag(np.linalg.inv(design.T @ ((w * p * (1 - p))[:, None] * design))))
    np.testing.assert_allclose(jf.coef.ravel(), params[: G * k], rtol=0, atol=TOL)
    np.testing.assert_allclose(jf.gamma[others], params[G * k :], rtol=0, atol=TOL)
    assert jf.gamma[ref] == 0.0
    np.testing.assert_allclose(jf.gamma_se[others], bse[G * k :], rtol=0, atol=TOL)


def keep_count(n_instr: int, lam: float) -> int:
    return n_instr - (lam == 0)  # without a ridge the reference γ is not a parameter


class _Fit:  # what _gamma_influence reads of a fit: the reference instruction
    def __init__(self, reference: str):
        self.difficulty_ = Difficulty(pd.Series([0.0], index=[reference]))


@pytest.mark.parametrize("G, k, n_instr, lam", [(5, 2, 40, 0.0), (5, 2, 40, 0.1), (30, 2, 20, 0.0)])
def test_two_stage_gamma_influence_equals_a_dense_solve(G, k, n_instr, lam):
    """γ's influence, the γ part of A11⁻¹ [U1_b; 0], by the Schur/Woodbury solve (instructions
    outnumber the model coefficients) or the I × I solve, against the whole system solved."""
    from debias.inference.two_stage import _gamma_influence

    rng = np.random.default_rng(G * n_instr)
    C = rng.random((G, k, n_instr))
    A = np.einsum("gki,gli->gkl", C, C) + np.eye(k)
    D = C.sum(axis=(0, 1)) + 1.0 + 2 * lam
    U1 = rng.normal(size=(G, k, n_instr))
    instr = pd.Index([f"x{i}" for i in range(n_instr)])
    ref = 3
    got, low_rank = _gamma_influence(A, C, D, U1, instr, _Fit(instr[ref]), lam)
    assert (low_rank is not None) == (G * k < keep_count(n_instr, lam))
    if low_rank is not None:
        free, left, right = low_rank
        np.testing.assert_allclose(got[free], left @ right, rtol=0, atol=1e-14)
    keep = np.ones(n_instr, bool)
    keep[ref] = lam != 0
    C2 = C.reshape(G * k, n_instr)[:, keep]
    full = np.block(
        [[scipy_block_diag(*A), C2], [C2.T, np.diag(D[keep])]],
    )
    rhs = np.vstack([U1.reshape(G * k, n_instr), np.zeros((keep.sum(), n_instr))])
    expected = np.zeros((n_instr, n_instr))
    expected[keep] = np.linalg.solve(full, rhs)[G * k :]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
