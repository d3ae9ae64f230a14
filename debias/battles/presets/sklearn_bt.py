"""Logistic regression on the duplicated ±ln 10 design, as Arena-Hard and FastChat call it."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import sparse

from debias.battles.presets.common import BattleRows
from debias.errors import InputError

__all__ = ["sklearn_bt", "sklearn_preset", "sklearn_ratings", "tie_split"]


def sklearn_bt(a, b, y1, y2, x, m: int, *, penalised: bool) -> np.ndarray:
    """LogisticRegression on the duplicated ±ln 10 design, as Arena-Hard / FastChat call it.

    Rows: every battle twice; ties are a win in the first copy and a loss in the second.
    Returns the coefficients (ratings in base-10 units, then the style coefficients).
    """
    from sklearn.linear_model import LogisticRegression

    n = len(a)
    rows = np.arange(2 * n)
    ln10 = math.log(10.0)
    aa, bb = np.r_[a, a], np.r_[b, b]
    data = np.r_[np.full(2 * n, ln10), np.full(2 * n, -ln10)]
    design = sparse.csr_matrix((data, (np.r_[rows, rows], np.r_[aa, bb])), shape=(2 * n, m))
    if x.shape[1]:
        design = sparse.hstack([design, sparse.csr_matrix(np.r_[x, x])], format="csr")
    target = np.r_[y1, y2]
    if penalised:  # scikit-learn's defaults: L2 with C=1, lbfgs tol 1e-4 (fit_bt / fit_mle_elo)
        lr = LogisticRegression(fit_intercept=False)
    else:  # compute_mle_elo: penalty=None (C=inf in scikit-learn >= 1.8), tol 1e-8
        lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8)
    if len(np.unique(target)) < 2:
        raise InputError("every battle has the same winner: no Bradley-Terry fit exists.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        lr.fit(design, target)
    return lr.coef_[0]


def tie_split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first copy, second copy) targets: a tie is one A win and one B win."""
    return (y >= 0.5).astype(float), (y == 1.0).astype(float)


def sklearn_ratings(d: BattleRows, x, rows, *, penalised: bool) -> tuple[np.ndarray, np.ndarray]:
    m = len(d.models)
    y1, y2 = tie_split(d.y[rows])
    coef = sklearn_bt(d.a[rows], d.b[rows], y1, y2, x[rows], m, penalised=penalised)
    return 400.0 * coef[:m] + 1000.0, coef[m:]


def sklearn_preset(d, x, *, penalised, n_boot, seed, level, anchor_fn):
    """Point fit + bootstrap over battle rows; returns (ratings, coefs, boot ratings, boot coefs)."""
    rating, coef = sklearn_ratings(d, x, np.arange(len(d.a)), penalised=penalised)
    rng = np.random.default_rng(seed)
    boot_r, boot_c = [], []
    m = len(d.models)
    for _ in range(n_boot):
        rows = rng.integers(0, len(d.a), len(d.a))
        present = (np.bincount(d.a[rows], minlength=m) + np.bincount(d.b[rows], minlength=m)) > 0
        r, c = sklearn_ratings(d, x, rows, penalised=penalised)
        r = np.where(present, r, np.nan)  # a model absent from a replicate has no rating there
        boot_r.append(anchor_fn(r))
        boot_c.append(c)
    boot_r = np.array(boot_r).reshape(n_boot, m)
    return anchor_fn(rating), coef, boot_r, np.array(boot_c).reshape(n_boot, len(coef))
