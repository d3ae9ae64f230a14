"""Does a logistic fit's maximum-likelihood estimate exist? (the linear-programming check)

A weighted logistic loss with soft labels ``y`` in [0, 1],
``L(b) = sum_i w_i [log(1 + exp(x_i b)) - y_i x_i b]``, keeps decreasing along a
direction ``d`` for ever (the estimate runs off to infinity: *separation*, complete or
quasi-complete) exactly when ``x_i d >= 0`` on every row with ``y_i = 1``, ``x_i d <= 0``
on every row with ``y_i = 0``, ``x_i d = 0`` on every row with ``0 < y_i < 1`` (a soft
label is both a win and a loss), and ``x_i d != 0`` on at least one row. Whether such a
``d`` exists is a linear programme (Konis, *Linear programming algorithms for detecting
separated data in binary logistic regression models*, 2007; the R package
``detectseparation``): maximise ``sum_{y=1} x_i d - sum_{y=0} x_i d`` over the box
``|d_j| <= 1``; a positive optimum is a direction of separation.

A large fitted log-odds is not separation by itself: with soft labels the estimate is
finite and unique whenever no such direction exists, however extreme it is.
"""

from __future__ import annotations

import numpy as np

HARD_TOLERANCE = 1e-9
"""A label within this of 0 or 1 counts as a hard verdict."""


def separating_direction(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, free: np.ndarray | None = None
) -> np.ndarray | None:
    """A direction along which the logistic loss decreases for ever, or None.

    Parameters
    ----------
    X : ndarray, shape (n, k)
        Design matrix.
    y : ndarray, shape (n,)
        Labels in [0, 1] (soft or hard).
    w : ndarray, shape (n,)
        Non-negative weights; rows of weight 0 are ignored.
    free : ndarray of bool, shape (k,), optional
        Coefficients the direction may move (default all); others are held (e.g. slopes
        a penalty keeps finite).

    Returns
    -------
    ndarray or None
        ``d`` (max-norm 1) when the data are separated along it, else None.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [-2.0, -1.0, 1.0, 2.0]])
    >>> separating_direction(X, np.array([0.0, 0.0, 1.0, 1.0]), np.ones(4)) is not None
    True
    >>> separating_direction(X, np.array([0.0, 1.0, 0.0, 1.0]), np.ones(4)) is None
    True
    >>> separating_direction(X, np.array([0.0, 1.0, 0.3, 1.0]), np.ones(4)) is None
    True
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.asarray(w, dtype=float) > 0
    X, y = X[keep], y[keep]
    k = X.shape[1]
    free = np.ones(k, bool) if free is None else np.asarray(free, bool)
    if not free.any() or len(y) == 0:
        return None
    Xf = X[:, free]
    scale = np.maximum(np.abs(Xf).max(axis=0), 1e-300)
    Xs = Xf / scale  # columns on a common scale, so the box |d| <= 1 is fair to each
    ones = y >= 1 - HARD_TOLERANCE
    zeros = y <= HARD_TOLERANCE
    soft = ~(ones | zeros)
    if soft.sum() >= Xs.shape[1]:
        # x_i d = 0 on every soft row: when those rows have full column rank (well
        # conditioned), d = 0 is the only feasible direction and the LP has nothing to find
        sv = np.linalg.svd(Xs[soft], compute_uv=False)
        if sv[-1] > 1e-6 * sv[0]:
            return None
    from scipy.optimize import linprog  # ~0.1 s to import; most fits never reach the LP

    objective = -(Xs[ones].sum(axis=0) - Xs[zeros].sum(axis=0))
    a_ub = np.vstack([-Xs[ones], Xs[zeros]])
    res = linprog(
        objective,
        A_ub=a_ub if len(a_ub) else None,
        b_ub=np.zeros(len(a_ub)) if len(a_ub) else None,
        A_eq=Xs[soft] if soft.any() else None,
        b_eq=np.zeros(int(soft.sum())) if soft.any() else None,
        bounds=[(-1.0, 1.0)] * int(free.sum()),
        method="highs",
    )
    if res.status != 0 or -res.fun <= 1e-7 * max(1, len(y)) ** 0.5:
        return None
    d = np.zeros(k)
    d[free] = res.x / scale
    return d / np.abs(d).max()


NEAR_SEPARATION = 15.0
"""|coefficient| above which the audit and its plots treat a fit as nearly separated and leave
it out of pooled effects (the Newton solver warns from the same size); the leaderboard instead
reports such a fit when its maximum-likelihood estimate exists (:func:`separating_direction`)."""


def is_nearly_separated(res) -> bool:
    """A fit that did not converge, or has a coefficient beyond :data:`NEAR_SEPARATION`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> is_nearly_separated(SimpleNamespace(converged=True, params=pd.Series([1.0, 18.0])))
    True
    """
    return (not res.converged) or bool(np.any(np.abs(res.params.to_numpy()) > NEAR_SEPARATION))
