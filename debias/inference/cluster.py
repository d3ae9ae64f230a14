"""Cluster-robust helpers: the small-sample factor, a standard error from per-cluster
influences, critical values and per-cluster sums."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri, stdtrit

from debias.errors import check_param


def cluster_factor(n_clusters: int) -> float:
    """The small-sample factor G/(G-1) of a cluster-robust variance (1 for one cluster)."""
    return n_clusters / (n_clusters - 1) if n_clusters > 1 else 1.0


def cluster_se(influence) -> float:
    """Cluster-robust standard error from per-cluster influences (one value per cluster).

    Examples
    --------
    >>> round(cluster_se(np.array([1.0, -1.0])), 4)
    2.0
    """
    values = np.asarray(influence, dtype=float)
    return float(np.sqrt(np.sum(values**2) * cluster_factor(len(values))))


def critical_value(level: float, df: float | None = None) -> float:
    """Two-sided critical value for a confidence ``level`` in (0, 1).

    Normal when ``df`` is None; Student's t with ``df`` degrees of freedom otherwise
    (the small-sample choice for a cluster-robust variance with G clusters: ``df = G - 1``;
    NaN when ``df < 1``: no interval from one cluster).

    Examples
    --------
    >>> round(critical_value(0.95), 3)
    1.96
    >>> round(critical_value(0.95, df=9), 3)
    2.262
    """
    check_param(
        "level",
        level,
        "a float in (0, 1)",
        isinstance(level, (float, int)) and not isinstance(level, bool) and 0 < level < 1,
    )
    if df is None:
        return float(ndtri(0.5 + level / 2))
    return float(stdtrit(df, 0.5 + level / 2)) if df >= 1 else float("nan")


def sum_by_code(values: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Sum rows of ``values`` (1-D or 2-D) that share a code in ``range(n)``."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n)
    return np.column_stack([np.bincount(codes, weights=v, minlength=n) for v in values.T])
