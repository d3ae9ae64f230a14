"""The cumulative-logit fit against statsmodels' OrderedModel, and its hostile cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.miscmodels.ordinal_model import OrderedModel

from debias.errors import InputError, ParameterError
from debias.model.ordinal import fit_ordinal


def _data(n=500, seed=0, cuts=(-1.0, 0.5, 1.5), beta=(1.0, -0.5)):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(beta)))
    y = np.digitize(x @ np.asarray(beta) + rng.logistic(size=n), cuts)
    groups = rng.integers(0, 40, n)
    return x, y, groups


def _statsmodels(x, y, **fit_kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = OrderedModel(y, x, distr="logit")
        res = model.fit(method="bfgs", disp=0, gtol=1e-12, maxiter=5000, **fit_kw)
    k = x.shape[1]
    p = res.params
    theta = model.transform_threshold_params(p)[1:-1]
    # d(beta, theta) / d(beta, theta_1, log increments)
    J = np.eye(len(p))
    for i in range(1, len(theta)):
        J[k + i, :] = J[k + i - 1, :]
        J[k + i, k + i] = np.exp(p[k + i])
    return p[:k], theta, J @ res.cov_params() @ J.T, res.llf


def test_matches_statsmodels_estimates_and_covariances():
    x, y, g = _data()
    fit = fit_ordinal(x, y, cluster=g)
    beta, theta, cov_model, llf = _statsmodels(x, y)
    np.testing.assert_allclose(fit.coef, beta, atol=1e-6)
    np.testing.assert_allclose(fit.thresholds, theta, atol=1e-6)
    assert fit.loglik == pytest.approx(llf, abs=1e-8)
    np.testing.assert_allclose(fit.cov_model, cov_model, rtol=1e-5, atol=1e-9)
    # the clustered sandwich: statsmodels without its small-sample correction; ours has G/(G-1)
    _, _, cov_cl, _ = _statsmodels(
        x, y, cov_type="cluster", cov_kwds={"groups": g, "use_correction": False}
    )
    G = len(np.unique(g))
    np.testing.assert_allclose(fit.cov * (G - 1) / G, cov_cl, rtol=1e-5, atol=1e-9)
    assert fit.converged and fit.n_iter < 20 and not fit.problems


def test_extreme_linear_predictor_is_stable():
    # large coefficients put many rows deep in the tails of the logistic
    x, y, _ = _data(n=400, seed=3, cuts=(-6.0, 0.0, 6.0), beta=(6.0, -3.0))
    fit = fit_ordinal(x, y)
    beta, theta, _, _ = _statsmodels(x, y)
    np.testing.assert_allclose(fit.coef, beta, rtol=1e-6)
    np.testing.assert_allclose(fit.thresholds, theta, rtol=1e-6)


def test_integer_weights_equal_repeated_rows():
    x, y, g = _data(n=200, seed=1)
    w = np.random.default_rng(2).integers(1, 4, len(y))
    weighted = fit_ordinal(x, y, weights=w, cluster=g)
    rep = np.repeat(np.arange(len(y)), w)
    repeated = fit_ordinal(x[rep], y[rep], cluster=g[rep])
    np.testing.assert_allclose(weighted.coef, repeated.coef, atol=1e-9)
    np.testing.assert_allclose(weighted.thresholds, repeated.thresholds, atol=1e-9)
    np.testing.assert_allclose(weighted.cov, repeated.cov, rtol=1e-8)


def test_empty_level_is_reported_and_fitted_on_observed_levels():
    x, y, _ = _data(n=300, seed=4, cuts=(-1.0, 0.5))  # levels 0, 1, 2
    y_declared = np.where(y == 2, 3, y)  # declared scale 0..3, level 2 never used
    fit = fit_ordinal(x, y_declared, levels=[0, 1, 2, 3])
    beta, theta, _, _ = _statsmodels(x, y)
    np.testing.assert_allclose(fit.coef, beta, atol=1e-6)
    np.testing.assert_allclose(fit.thresholds, theta, atol=1e-6)
    assert "[2]" in fit.problems["levels"]
    assert fit.threshold_names == ["0|1", "1|3"]
    proba = fit.predict_proba(x[:5])
    assert np.all(proba[:, 2] == 0) and np.allclose(proba.sum(axis=1), 1)


def test_separation_is_missing_with_reason_and_the_rest_refitted():
    x, y, g = _data(n=400, seed=5)
    top = np.zeros(len(y))
    top[:30] = 1.0
    y = y.copy()
    y[:30] = 3  # every row of this group at the top level: its coefficient runs off
    X = np.column_stack([x, top])
    fit = fit_ordinal(X, y, cluster=g, names=["x0", "x1", "group"])
    assert np.isnan(fit.coef[2]) and "separation" in fit.problems["group"]
    beta, theta, _, _ = _statsmodels(x[30:], y[30:])
    np.testing.assert_allclose(fit.coef[:2], beta, atol=1e-6)
    np.testing.assert_allclose(fit.thresholds, theta, atol=1e-6)
    table = fit.table()
    row = table.set_index("term").loc["group"]
    assert np.isnan(row["std_error"]) and "separation" in row["note"]
    assert np.isnan(fit.predict_proba(X[:1])).all()  # a row that needs the separated term
    assert not np.isnan(fit.predict_proba(X[30:31])).any()


def test_one_level_only_is_all_missing_not_an_error():
    x = np.random.default_rng(0).normal(size=(20, 1))
    fit = fit_ordinal(x, np.full(20, 3), levels=[1, 2, 3])
    table = fit.table()
    assert table["estimate"].isna().all() and table["std_error"].isna().all()
    assert "fewer than two levels" in fit.problems["fit"]


def test_bad_inputs_are_one_clear_error():
    x, y, _ = _data(n=50)
    with pytest.raises(ParameterError, match="collinear"):
        fit_ordinal(np.column_stack([x, np.ones(50)]), y)
    with pytest.raises(InputError, match="not one of levels"):
        fit_ordinal(x, y, levels=[0, 1, 2])
    with pytest.raises(InputError, match="weights"):
        fit_ordinal(x, y, weights=-np.ones(50))
    with pytest.raises(InputError, match="not finite"):
        fit_ordinal(np.where(np.arange(50)[:, None] == 3, np.nan, x), y)


def test_probability_jacobian_matches_finite_differences():
    x, y, _ = _data(n=300, seed=6)
    fit = fit_ordinal(x, y)
    X0 = x[:4]
    _, jac = fit.predict_proba(X0, jacobian=True)
    eps = 1e-6
    k = len(fit.coef)
    for j in range(k + len(fit.thresholds)):
        moved = []
        for sign in (1, -1):
            coef, th = fit.coef.copy(), fit.thresholds.copy()
            if j < k:
                coef[j] += sign * eps
            else:
                th[j - k] += sign * eps
            eta = X0 @ coef
            cum = 1 / (1 + np.exp(-(th[None, :] - eta[:, None])))
            cum = np.column_stack([np.zeros(4), cum, np.ones(4)])
            moved.append(np.diff(cum, axis=1))
        np.testing.assert_allclose(jac[:, :, j], (moved[0] - moved[1]) / (2 * eps), atol=1e-7)


def test_influence_reproduces_the_sandwich_and_names_its_clusters():
    x, y, g = _data(n=300, seed=8)
    labels = np.array([f"p{v}" for v in g])
    fit = fit_ordinal(x, y, cluster=labels)
    G = len(np.unique(g))
    np.testing.assert_allclose(fit.influence.T @ fit.influence * G / (G - 1), fit.cov)
    assert sorted(fit.clusters.tolist()) == sorted(set(labels.tolist()))
    # a cluster's influence is H^-1 times its summed scores: removing the cluster moves the
    # estimate by about minus its influence (one-step jackknife)
    drop = fit.clusters[0]
    keep = labels != drop
    refit = fit_ordinal(x[keep], y[keep])
    moved = np.concatenate([refit.coef, refit.thresholds]) - np.concatenate(
        [fit.coef, fit.thresholds]
    )
    np.testing.assert_allclose(moved, -fit.influence[0], atol=0.02)
