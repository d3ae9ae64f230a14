"""Batched Newton on rows grouped in contiguous blocks (sums by ``np.add.reduceat``) gives the
same fit as on the same rows shuffled (sums by ``np.bincount``)."""

from __future__ import annotations

import numpy as np

from debias.model.solvers.newton import Problem, block_starts, fit_newton, group_gram


def _problem(rng, order=None, shared=True):
    G, n_per, k = 7, 120, 3
    group = np.repeat(np.arange(G), n_per)
    X = np.column_stack([np.ones(len(group)), rng.normal(size=(len(group), k - 1))])
    beta = rng.normal(size=(G, k)) * 0.5
    y = 1 / (1 + np.exp(-np.einsum("ij,ij->i", X, beta[group])))
    y = np.clip(y + rng.normal(scale=0.1, size=len(y)), 0, 1)  # soft labels
    w = np.ones(len(y))
    if order is not None:
        X, y, w, group = X[order], y[order], w[order], group[order]
    extra = ()
    if shared:
        Xs = np.column_stack([np.ones(30), rng.normal(size=(30, k - 1))])
        extra = (Xs, rng.random(30), np.full(30, 0.1))
    return Problem(X, y, w, group, G, *extra)


def test_block_starts_only_for_contiguous_groups():
    assert block_starts(np.array([0, 0, 1, 1, 2]), 3).tolist() == [0, 2, 4]
    assert block_starts(np.array([0, 2, 2]), 3) is None  # a group missing
    assert block_starts(np.array([1, 0]), 2) is None  # out of order
    assert block_starts(np.array([0, 0, 1]), 3) is None  # last group missing
    assert block_starts(np.array([], int), 1) is None


def test_block_sums_equal_bincount():
    rng = np.random.default_rng(1)
    p = _problem(rng)
    assert p._starts is not None
    v = rng.normal(size=len(p.y))
    np.testing.assert_allclose(
        p.group_total(v), np.bincount(p.group, v, minlength=p.n_groups), rtol=1e-13
    )
    np.testing.assert_allclose(
        p.group_gram(v), group_gram(p.X, p.group, v, p.n_groups), rtol=1e-12, atol=1e-12
    )


def test_fit_same_on_shuffled_rows():
    blocks = _problem(np.random.default_rng(2))
    order = np.random.default_rng(3).permutation(len(blocks.y))
    shuffled = _problem(np.random.default_rng(2), order=order)
    assert blocks._starts is not None and shuffled._starts is None
    a, b = fit_newton(blocks, l2=0.1), fit_newton(shuffled, l2=0.1)
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.hessian, b.hessian, rtol=1e-10)
