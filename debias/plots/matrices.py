"""Matrix heatmaps: win rate of every model against every other, correlations with a benchmark.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> m = pd.DataFrame([[50.0, 70.0], [30.0, 50.0]], index=["a", "b"], columns=["a", "b"])
>>> len(winrate_heatmap(m).axes[0].texts)
4
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from debias.errors import InputError
from debias.plots.common import SMALL, new_axes, short_name, tick_fontsize

__all__ = ["benchmark_correlation", "winrate_heatmap"]


def winrate_heatmap(
    matrix: pd.DataFrame, annotate: bool | None = None, ax=None, *, sort: bool = True
):
    """A win-rate matrix (percent; row model against column model), centred at 50.

    With ``sort``, models are ordered by their mean win rate against the others
    (strongest first, on both axes), so that the matrix reads as a ranking.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square, percent (e.g. :func:`debias.counterfactual.winrate_matrix`).
    annotate : bool, optional
        Write the value in each cell (default: when at most 20 models).
    ax : matplotlib.axes.Axes, optional
    sort : bool, default True
        Order the models by mean win rate (False: as given).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> m = pd.DataFrame([[50.0, 70.0], [30.0, 50.0]], index=["a", "b"], columns=["a", "b"])
    >>> len(winrate_heatmap(m).axes[0].texts)
    4
    >>> [t.get_text() for t in winrate_heatmap(m.loc[["b", "a"], ["b", "a"]]).axes[0].get_yticklabels()]
    ['a', 'b']
    """
    if not isinstance(matrix, pd.DataFrame) or matrix.shape[0] != matrix.shape[1]:
        raise InputError("winrate_heatmap needs a square DataFrame (rows and columns: models).")
    if list(matrix.index) != list(matrix.columns):
        raise InputError(
            "winrate_heatmap needs the same models, in the same order, as rows and columns."
        )
    if sort:
        off = matrix.where(~np.eye(len(matrix), dtype=bool))  # the diagonal is not a game
        order = off.mean(axis=1).sort_values(ascending=False, kind="stable").index
        matrix = matrix.loc[order, order]
    n = matrix.shape[0]
    annotate = n <= 20 if annotate is None else annotate
    cell = 0.5 if n <= 12 else 0.38 if n <= 20 else 0.2
    side = max(4.0, cell * n + 2.4)
    fig, ax = new_axes(ax, figsize=(side + 1.0, side))
    vals = matrix.to_numpy(float)
    norm = TwoSlopeNorm(
        vcenter=50.0, vmin=min(0.0, np.nanmin(vals)), vmax=max(100.0, np.nanmax(vals))
    )
    im = ax.imshow(vals, cmap="RdBu", norm=norm, aspect="equal")
    fs = tick_fontsize(n)
    ax.set_xticks(
        range(n),
        [short_name(c, 24) for c in matrix.columns],
        rotation=45,
        ha="right",
        rotation_mode="anchor",
        fontsize=fs,
    )
    ax.set_yticks(range(n), [short_name(r, 24) for r in matrix.index], fontsize=fs)
    if annotate:
        for i in range(n):
            for j in range(n):
                v = vals[i, j]
                if np.isnan(v):
                    continue
                dark = abs(v - 50) > 30
                ax.text(
                    j,
                    i,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=SMALL,
                    color="white" if dark else "black",
                )
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    cb.set_label("Win rate of row model vs column model (%)")
    cb.ax.tick_params(labelsize=SMALL)
    ax.set_xlabel("Opponent (column model)")
    ax.set_ylabel("Model (row)")
    ax.set_title("Controlled win rate of each model against each other (%)", fontsize=10)
    return fig


def benchmark_correlation(corr_series: pd.Series, ax=None):
    """Spearman correlation of each benchmark with Chatbot Arena: a one-row heatmap.

    Sorted ascending (the paper's Figure 1 layout), values written in the cells.

    Parameters
    ----------
    corr_series : pandas.Series
        Correlation per benchmark (index: benchmark names), in [-1, 1].
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> s = pd.Series({"AlpacaEval 2.0": 0.94, "LC AlpacaEval 2.0": 0.98, "Length": 0.35})
    >>> [t.get_text() for t in benchmark_correlation(s).axes[0].texts]
    ['0.35', '0.94', '0.98']
    """
    if not isinstance(corr_series, pd.Series) or corr_series.empty:
        raise InputError(
            "benchmark_correlation needs a non-empty pandas Series (index: benchmarks)."
        )
    s = corr_series.dropna().astype(float).sort_values()
    n = len(s)
    fig, ax = new_axes(ax, figsize=(max(5.0, 0.85 * n + 2.0), 2.9))
    im = ax.imshow(
        s.to_numpy()[None, :], cmap="viridis", vmin=min(0.0, s.min()), vmax=1.0, aspect="auto"
    )
    norm = im.norm
    for j, v in enumerate(s):
        light = norm(v) < 0.6
        ax.text(
            j,
            0,
            f"{v:.2f}",
            ha="center",
            va="center",
            fontsize=9 if n <= 14 else SMALL,
            color="white" if light else "black",
        )
    ax.set_xticks(
        range(n),
        [short_name(b, 26) for b in s.index],
        rotation=40,
        ha="right",
        rotation_mode="anchor",
        fontsize=tick_fontsize(n),
    )
    ax.set_yticks([])
    ax.set_ylabel("Chatbot Arena\n(Elo ranking)", fontsize=9)
    ax.set_xlabel("Benchmark")
    cb = ax.figure.colorbar(im, ax=ax, pad=0.02, fraction=0.05)
    cb.set_label("Spearman ρ", fontsize=9)
    cb.ax.tick_params(labelsize=SMALL)
    ax.set_title("Spearman correlation with Chatbot Arena (ascending)", fontsize=10)
    return fig
