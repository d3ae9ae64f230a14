"""The rank shortcut of :func:`debias.model.separation.separating_direction`: when the rows
with a soft label have full column rank, no direction keeps them all at x·d = 0 except d = 0,
so the data cannot be separated and the LP is skipped. Checked against the LP itself (the
shortcut forced off) on random soft/hard data, separated and not."""

from __future__ import annotations

import numpy as np
import pytest

from debias.model import separation


def _lp_only(monkeypatch, X, y):
    """The LP's answer: the rank test made to fail, so the LP always runs."""
    with monkeypatch.context() as m:
        m.setattr(separation.np.linalg, "svd", lambda a, compute_uv=False: np.array([1.0, 0.0]))
        return separation.separating_direction(X, y, np.ones(len(y)))


@pytest.mark.parametrize("seed", range(40))
def test_shortcut_gives_the_lps_answer(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 60)), int(rng.integers(1, 5))
    X = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    y = (rng.random(n) < 0.5).astype(float)
    n_soft = int(rng.integers(0, n))  # from hard labels only to mostly soft
    y[:n_soft] = rng.uniform(0.05, 0.95, n_soft)
    if seed % 4 == 0:  # separated by the last column on the hard rows, 0 on the soft rows
        X[:, -1] = np.where(y > 0.5, 1.0, -1.0)
        X[:n_soft, -1] = 0.0
    fast = separation.separating_direction(X, y, np.ones(n))
    slow = _lp_only(monkeypatch, X, y)
    assert (fast is None) == (slow is None)
    if fast is not None:
        np.testing.assert_allclose(fast, slow)


def test_separated_data_are_still_found_with_soft_rows():
    """Soft rows that leave one direction free (x·d = 0 on all of them) do not hide it."""
    X = np.column_stack([np.ones(8), [0, 0, 0, 0, -1, -1, 1, 1.0]])
    y = np.array([0.3, 0.6, 0.5, 0.7, 0, 0, 1, 1.0])
    d = separation.separating_direction(X, y, np.ones(8))
    assert d is not None and d[0] == 0 and d[1] > 0
