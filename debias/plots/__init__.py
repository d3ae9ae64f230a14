"""Plots of fitted judges and of leaderboards; each takes ``ax=None`` and returns the figure.

Every function draws into ``ax`` when given (a new constrained-layout figure when
``None``), returns the :class:`~matplotlib.figure.Figure`, never calls
``plt.show()`` and works headless (``MPLBACKEND=Agg``). Colours come from the
Okabe–Ito palette and colour-blind-safe colormaps (viridis, RdBu). Table plots
read debias's columns or a published AlpacaEval table's (:mod:`debias.plots.columns`).

One module per family:

- :mod:`debias.plots.leaderboard`: :func:`raw_vs_controlled`, :func:`rank_bump`;
- :mod:`debias.plots.variants`: :func:`variants_table`, :func:`gameability`;
- :mod:`debias.plots.matrices`: :func:`winrate_heatmap`, :func:`benchmark_correlation`;
- :mod:`debias.plots.effects`: :func:`length_effect`, :func:`coefficient_forest`;
- :mod:`debias.plots.diagnostics`: :func:`calibration`, :func:`residuals`;
- :mod:`debias.plots.labels`: the label placement (no label covers a point or another label);
- :mod:`debias.plots.common`: palette, checks, binning, :func:`save`.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> published = pd.DataFrame({"win_rate": [10.0, 30.0], "length_controlled_winrate": [15.0, 25.0],
...                           "avg_length": [900, 2500]}, index=["a", "b"])
>>> raw_vs_controlled(published, n_labels=0).axes[0].get_xlabel()
'Raw win rate (%)'
"""

from debias.plots.common import OKABE_ITO, save
from debias.plots.diagnostics import calibration, residuals
from debias.plots.effects import coefficient_forest, length_effect
from debias.plots.leaderboard import controls_label, rank_bump, raw_vs_controlled
from debias.plots.matrices import benchmark_correlation, winrate_heatmap
from debias.plots.variants import gameability, variants_table

__all__ = [
    "OKABE_ITO",
    "benchmark_correlation",
    "calibration",
    "coefficient_forest",
    "controls_label",
    "gameability",
    "length_effect",
    "rank_bump",
    "raw_vs_controlled",
    "residuals",
    "save",
    "variants_table",
    "winrate_heatmap",
]
