"""The separation check against an independent judge of it: statsmodels' own detection."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from debias.model.separation import separating_direction


def _statsmodels_says_separated(X, y) -> bool:
    """statsmodels flags (quasi-)perfect separation of hard labels, or fails to converge."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            res = sm.Logit(y, X).fit(disp=0, maxiter=200)
        except Exception as exc:  # PerfectSeparationError in older releases
            return "separation" in str(exc).lower()
    flagged = any("separation" in str(w.message).lower() for w in rec)
    return flagged or np.max(np.abs(res.params)) > 15


@pytest.mark.parametrize("seed", range(12))
def test_hard_labels_agree_with_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 40))
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    if seed % 2:  # separated by construction: wins exactly when x > a threshold
        y = (x > rng.normal(scale=0.3)).astype(float)
        if y.min() == y.max():
            y[0] = 1 - y[0]
            x[0] = x.max() + 1 if y[0] == 1 else x.min() - 1
            X[:, 1] = x
    else:  # overlapping: noisy labels
        y = (rng.random(n) < 0.5).astype(float)
        y[:2] = [0.0, 1.0]
        x[:2] = [2.0, -2.0]  # a loss at high x and a win at low x: never separated
        x[2:4] = [-2.5, 2.5]
        y[2:4] = [0.0, 1.0]
        X[:, 1] = x
    ours = separating_direction(X, y, np.ones(n)) is not None
    assert ours == _statsmodels_says_separated(X, y)


def test_soft_labels_have_a_finite_estimate_however_extreme():
    # soft labels: every row is partly a win and partly a loss, so no direction separates
    x = np.linspace(-1, 1, 50)
    X = np.column_stack([np.ones(50), x])
    y = np.where(x > 0, 1 - 1e-6, 1e-6)
    assert separating_direction(X, y, np.ones(50)) is None
    # ... but the same labels rounded to hard verdicts are separated
    assert separating_direction(X, np.round(y), np.ones(50)) is not None


def test_held_coefficients_cannot_separate():
    x = np.linspace(-1, 1, 20)
    X = np.column_stack([np.ones(20), x])
    y = (x > 0).astype(float)
    assert separating_direction(X, y, np.ones(20)) is not None
    assert separating_direction(X, y, np.ones(20), free=np.array([True, False])) is None
    # all wins: separated along the strength alone
    assert (
        separating_direction(X, np.ones(20), np.ones(20), free=np.array([True, False])) is not None
    )
