"""Stage-2 engines against independent implementations (statsmodels, cvxpy)."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit

from debias.errors import FitWarning, ParameterError
from debias.model.solvers.cvxpy import fit_cvxpy
from debias.model.solvers.newton import Problem, fit_newton


def _batch(seed=0, G=4, n=600, k=3, shared=True):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [np.ones(G * n), np.tanh(rng.normal(size=G * n)), rng.normal(size=(G * n, k - 2))]
    )
    grp = np.repeat(np.arange(G), n)
    B = rng.normal(scale=0.8, size=(G, k))
    p = expit(np.einsum("ij,ij->i", X, B[grp]))
    y = rng.beta(8 * p, 8 * (1 - p))
    w = rng.uniform(0.5, 1.5, size=G * n)
    if not shared:
        return X, y, w, grp, G, None, None, None
    Xs = np.column_stack(
        [np.zeros(200), np.tanh(rng.normal(size=200)), rng.normal(size=(200, k - 2))]
    )
    return X, y, w, grp, G, Xs, rng.random(200), np.full(200, 0.1)


def _per_model(X, y, w, grp, g, Xs, ys, ws):
    sel = grp == g
    if Xs is None:
        return X[sel], y[sel], w[sel]
    return np.vstack([X[sel], Xs]), np.r_[y[sel], ys], np.r_[w[sel], ws]


@pytest.mark.parametrize("shared", [True, False])
def test_newton_matches_statsmodels_and_cvxpy(shared):
    X, y, w, grp, G, Xs, ys, ws = _batch(shared=shared)
    res = fit_newton(Problem(X, y, w, grp, G, Xs, ys, ws))
    assert res.converged.all()
    for g in range(G):
        Xg, yg, wg = _per_model(X, y, w, grp, g, Xs, ys, ws)
        ref = sm.GLM(yg, Xg, family=sm.families.Binomial(), var_weights=wg).fit(tol=1e-13)
        np.testing.assert_allclose(res.coef[g], ref.params, atol=1e-6)
        np.testing.assert_allclose(fit_cvxpy(Xg, yg, wg), res.coef[g], atol=1e-6)
        # the conic solution itself, before polishing, is the independent check of the formulation
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            raw = fit_cvxpy(Xg, yg, wg, polish=False)
        np.testing.assert_allclose(raw, res.coef[g], atol=2e-5)
        # the Hessian is statsmodels' observed information
        np.testing.assert_allclose(np.linalg.inv(res.hessian[g]), ref.cov_params(), rtol=1e-5)


def test_newton_l2_matches_cvxpy():
    X, y, w, grp, G, *_ = _batch(seed=3, shared=False)
    res = fit_newton(Problem(X, y, w, grp, G), l2=5.0)
    for g in range(G):
        sel = grp == g
        np.testing.assert_allclose(
            fit_cvxpy(X[sel], y[sel], w[sel], l2=5.0), res.coef[g], atol=1e-6
        )


def test_l2_penalty_toward_centre_shrinks_to_centre():
    X, y, w, grp, G, *_ = _batch(seed=4, G=1, shared=False)
    centre = np.array([0.0, -2.0, 1.0])
    res = fit_newton(Problem(X, y, w, grp, 1), l2=1e7, center=centre)
    np.testing.assert_allclose(res.coef[0, 1:], centre[1:], atol=1e-3)


def test_cvxpy_sign_constraints_and_l1():
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(500), rng.normal(size=500)])
    y = (rng.random(500) < expit(X @ [0.3, -1.0])).astype(float)
    b = fit_cvxpy(X, y, np.ones(500), lower=np.array([-np.inf, 0.0]))
    assert b[1] >= -1e-8 and abs(b[1]) < 1e-6  # the constraint binds at zero
    free = fit_cvxpy(X, y, np.ones(500))
    shrunk = fit_cvxpy(X, y, np.ones(500), l1=50.0)
    assert abs(shrunk[1]) < abs(free[1])
    assert fit_cvxpy(X, y, np.ones(500), l1=1e6)[1] == pytest.approx(0.0, abs=1e-6)


def test_unidentified_column_is_held_at_zero():
    X, y, w, grp, G, *_ = _batch(seed=6, G=2, shared=False)
    X = X.copy()
    X[grp == 1, 1] = 0.0  # model 1: all-equal lengths
    res = fit_newton(Problem(X, y, w, grp, G))
    assert res.fixed[1, 1] and not res.fixed[0, 1]
    assert res.coef[1, 1] == 0.0 and res.converged.all()


def test_separation_warns():
    X = np.column_stack([np.ones(50), np.linspace(-1, 1, 50)])
    y = (X[:, 1] > 0).astype(float)
    with pytest.warns(FitWarning):
        fit_newton(Problem(X, y, np.ones(50), np.zeros(50, int), 1), max_iter=30)


def test_negative_penalty_is_a_parameter_error():
    X, y, w, grp, G, *_ = _batch(shared=False)
    with pytest.raises(ParameterError, match="'l2' parameter"):
        fit_newton(Problem(X, y, w, grp, G), l2=-1)
