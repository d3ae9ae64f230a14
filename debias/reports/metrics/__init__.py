"""Leaderboard-level metrics: how good and how gameable is a win-rate metric?

These functions reproduce the evaluation of the length-controlled AlpacaEval
paper (Dubois et al., 2024) on any leaderboard table, and implement the paper's
two alternative length corrections so that they can be compared with the GLM:

- :func:`gameability`: relative spread of a metric when the *same* model is
  prompted to be verbose or concise, rescaled by the metric's spread across models;
- :func:`adversarial_gain`: what an adversarial submission gains under a metric;
- :func:`benchmark_correlation`, :func:`correlations_with_arena`: rank correlation
  with another benchmark (Chatbot Arena), pairwise-complete (Figure 1);
- :func:`length_correlation`: rank correlation of a metric with output length;
- :func:`metric_report`: all of the above for one metric (the paper's per-metric report);
- :func:`length_normalized_win_rate`, :func:`length_balanced_win_rate`: the paper's
  alternative corrections;
- :func:`elo_from_win_rate`: win rate against a rated baseline → Elo.

One module per idea: :mod:`~debias.reports.metrics.gameability`,
:mod:`~debias.reports.metrics.correlation`, :mod:`~debias.reports.metrics.report`,
:mod:`~debias.reports.metrics.corrections`; column checks in
:mod:`~debias.reports.metrics.tables`.

Tables are pandas DataFrames with one row per model (a ``model`` column) and
metrics in percent, as returned by :func:`debias.reports.leaderboard.leaderboard` or
:func:`debias.io.read_leaderboard`.
"""

from debias.reports.metrics.corrections import (
    elo_from_win_rate,
    length_balanced_win_rate,
    length_normalized_win_rate,
)
from debias.reports.metrics.correlation import (
    ARENA_COLUMN,
    benchmark_correlation,
    correlations_with_arena,
    length_correlation,
)
from debias.reports.metrics.gameability import (
    adversarial_gain,
    gameability,
    relative_spread,
    variant_spreads,
)
from debias.reports.metrics.report import metric_report

__all__ = [
    "ARENA_COLUMN",
    "adversarial_gain",
    "benchmark_correlation",
    "correlations_with_arena",
    "elo_from_win_rate",
    "gameability",
    "length_balanced_win_rate",
    "length_correlation",
    "length_normalized_win_rate",
    "metric_report",
    "relative_spread",
    "variant_spreads",
]
