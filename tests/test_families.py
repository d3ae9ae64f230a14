"""Outcome families (debias.model.families): the protocol the Newton solver runs on.

Ground truth: finite differences of each family's own loss, and for the Gaussian family
numpy's least squares (an independent solver), per model and with shared rows."""

from __future__ import annotations

import numpy as np
import pytest

from debias.model.families import BINOMIAL_LOGIT, GAUSSIAN, BinomialLogit, Family, Gaussian
from debias.model.solvers.newton import Problem, fit_newton


@pytest.mark.parametrize("family", [BINOMIAL_LOGIT, GAUSSIAN], ids=lambda f: f.name)
def test_derivatives_are_those_of_the_loss(family):
    rng = np.random.default_rng(0)
    eta = rng.normal(scale=3, size=50)
    y = rng.uniform(size=50) if isinstance(family, BinomialLogit) else rng.normal(size=50)
    w = rng.uniform(0.5, 2, size=50)
    d1, d2 = family.derivatives(eta, y, w)
    h = 1e-5
    num1 = (family.loss(eta + h, y, w) - family.loss(eta - h, y, w)) / (2 * h)
    g_plus, _ = family.derivatives(eta + h, y, w)
    g_minus, _ = family.derivatives(eta - h, y, w)
    np.testing.assert_allclose(d1, num1, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d2, (g_plus - g_minus) / (2 * h), rtol=1e-6, atol=1e-8)
    assert np.all(d2 >= 0), "a family's loss must be convex in eta"


def test_families_satisfy_the_protocol():
    assert isinstance(BINOMIAL_LOGIT, Family) and isinstance(GAUSSIAN, Family)
    np.testing.assert_allclose(BINOMIAL_LOGIT.mean(np.array([0.0, np.log(3)])), [0.5, 0.75])
    assert GAUSSIAN.mean(np.array([1.5]))[0] == 1.5


def test_gaussian_family_in_the_batched_solver_is_least_squares():
    """A new outcome type runs through the same solver: per-model least squares with
    shared rows, checked against numpy's lstsq on the stacked rows of each model."""
    rng = np.random.default_rng(1)
    G, n, k = 3, 60, 3
    X = np.column_stack([np.ones(G * n), rng.normal(size=(G * n, k - 1))])
    group = np.repeat(np.arange(G), n)
    beta = rng.normal(size=(G, k))
    y = np.einsum("ij,ij->i", X, beta[group]) + rng.normal(scale=0.5, size=G * n)
    w = rng.uniform(0.5, 2.0, size=G * n)
    Xs = np.column_stack([np.zeros(10), rng.normal(size=(10, k - 1))])
    ys, ws = rng.normal(size=10), np.full(10, 0.3)
    res = fit_newton(
        Problem(X, y, w, group, G, Xs, ys, ws), family=Gaussian(), penalize=np.zeros(k, bool)
    )
    assert res.converged.all()
    for g in range(G):
        sel = group == g
        A = np.vstack([X[sel], Xs]) * np.sqrt(np.r_[w[sel], ws])[:, None]
        b = np.r_[y[sel], ys] * np.sqrt(np.r_[w[sel], ws])
        expected = np.linalg.lstsq(A, b, rcond=None)[0]
        np.testing.assert_allclose(res.coef[g], expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.hessian[g], A.T @ A, rtol=1e-12)


def test_default_family_is_the_binomial_logit():
    """fit_newton without family= and with the binomial family give the same fit."""
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(300), rng.normal(size=300)])
    y = rng.uniform(size=300)
    problem = Problem(X, y, np.ones(300), np.zeros(300, int), 1)
    a = fit_newton(problem)
    b = fit_newton(problem, family=BINOMIAL_LOGIT)
    np.testing.assert_array_equal(a.coef, b.coef)
