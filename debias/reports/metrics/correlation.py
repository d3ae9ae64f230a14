"""Rank correlations of a metric with another benchmark (Chatbot Arena) and with output length.

Pairwise-complete over the models both tables score (the paper's Figure 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from debias.errors import check_param
from debias.reports.metrics.tables import (
    by_model,
    check_method,
    correlate,
    find_column,
    numeric_column,
    require_columns,
)

__all__ = ["ARENA_COLUMN", "benchmark_correlation", "correlations_with_arena", "length_correlation"]

#: Chatbot Arena column of AlpacaEval's ``benchmarks.csv`` at paper time (one-line name).
ARENA_COLUMN = "Arena Elo [Feb 2, 2024]"


def benchmark_correlation(
    table: pd.DataFrame,
    benchmarks: pd.DataFrame,
    on: str = "model",
    *,
    reference: str = ARENA_COLUMN,
    metrics: Sequence[str] | None = None,
    method: str = "spearman",
    min_shared: int = 24,
) -> pd.DataFrame:
    """Correlation of a leaderboard's metrics with another benchmark, pairwise-complete.

    The two tables are joined on ``on`` (the model name); for each metric the
    correlation uses the models that have both a value of the metric and of
    ``reference``. Rank correlations are the point: a win rate and an Elo are on
    different scales.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model: ``on`` and the metric columns (e.g. a leaderboard).
    benchmarks : pandas.DataFrame
        One row per model: ``on`` and ``reference`` (e.g. :func:`debias.io.read_benchmarks`;
        multi-line column names are matched by their one-line form).
    on : str, default "model"
        The join column, present in both tables.
    reference : str, default ``ARENA_COLUMN``
        The benchmark to correlate with (Chatbot Arena Elo, Feb 2, 2024).
    metrics : sequence of str, optional
        Which columns of ``table`` (default: every numeric column except ``on``).
    method : {"spearman", "kendall", "pearson"}
    min_shared : int, default 24
        Metrics sharing fewer models with ``reference`` get NaN.

    Returns
    -------
    pandas.DataFrame
        ``metric, correlation, n_shared`` in the order of ``metrics``.

    Raises
    ------
    InputError
        Missing columns or duplicate model names.

    Examples
    --------
    >>> lb = pd.DataFrame({"model": list("abcd"), "win_rate": [1.0, 2, 3, 4],
    ...                    "lc": [4.0, 3, 2, 1]})
    >>> bm = pd.DataFrame({"model": list("abcde"), "Arena": [10.0, 20, 30, 40, 50]})
    >>> benchmark_correlation(lb, bm, reference="Arena", min_shared=4)
         metric  correlation  n_shared
    0  win_rate          1.0         4
    1        lc         -1.0         4
    """
    check_method(method)
    check_param(
        "min_shared", min_shared, "an int >= 2", isinstance(min_shared, int) and min_shared >= 2
    )
    by = by_model(table, on, "table")
    ref_col = find_column(benchmarks, reference, "benchmarks")
    bm = by_model(benchmarks, on, "benchmarks")
    ref = numeric_column(bm, ref_col, "benchmarks").reindex(by.index)
    if metrics is None:
        metrics = [c for c in by.columns if c != on and pd.api.types.is_numeric_dtype(by[c])]
    else:
        metrics = list(metrics)
        require_columns(by, metrics)
    rows = []
    for m in metrics:
        corr, n = correlate(numeric_column(by, m), ref, method)
        rows.append((m, corr if n >= min_shared else float("nan"), n))
    return pd.DataFrame(rows, columns=["metric", "correlation", "n_shared"])


def correlations_with_arena(
    benchmarks_df: pd.DataFrame,
    arena_column: str = ARENA_COLUMN,
    *,
    method: str = "spearman",
    min_shared: int = 24,
    model_column: str = "model",
) -> pd.DataFrame:
    """Correlation of every benchmark column with Chatbot Arena (the paper's Figure 1).

    Each benchmark column of ``benchmarks_df`` is correlated with ``arena_column``
    over the models that have both values (pairwise-complete); a benchmark is kept
    when it shares at least ``min_shared`` models with the Arena.

    Parameters
    ----------
    benchmarks_df : pandas.DataFrame
        AlpacaEval's ``benchmarks.csv`` as read by :func:`debias.io.read_benchmarks`
        (``model`` column, one column per benchmark; multi-line names are fine).
    arena_column : str, default ``ARENA_COLUMN``
        The Arena Elo column (matched by its one-line name).
    method : {"spearman", "kendall", "pearson"}
    min_shared : int, default 24
    model_column : str, default "model"
        Ignored as a benchmark (the model names).

    Returns
    -------
    pandas.DataFrame
        ``benchmark`` (one-line name), ``correlation``, ``n_shared``, sorted by
        correlation ascending (the figure's order).

    Examples
    --------
    >>> bm = pd.DataFrame({"model": list("abc"), "Arena Elo\\n[Feb 2, 2024]": [1.0, 2, 3],
    ...                    "Good": [1.0, 2, 3], "Bad": [3.0, 1, 2], "Tiny": [1.0, None, None]})
    >>> correlations_with_arena(bm, min_shared=3)
      benchmark  correlation  n_shared
    0       Bad         -0.5         3
    1      Good          1.0         3
    """
    from debias.io import normalise_column_name

    check_method(method)
    check_param(
        "min_shared", min_shared, "an int >= 2", isinstance(min_shared, int) and min_shared >= 2
    )
    arena = find_column(benchmarks_df, arena_column, "benchmarks_df")
    arena_values = numeric_column(benchmarks_df, arena, "benchmarks_df")
    rows = []
    for c in benchmarks_df.columns:
        if c in (arena, model_column) or not pd.api.types.is_numeric_dtype(benchmarks_df[c]):
            continue
        corr, n = correlate(numeric_column(benchmarks_df, c, "benchmarks_df"), arena_values, method)
        if n >= min_shared:
            rows.append((normalise_column_name(c), corr, n))
    out = pd.DataFrame(rows, columns=["benchmark", "correlation", "n_shared"])
    return out.sort_values("correlation", kind="stable").reset_index(drop=True)


def length_correlation(
    table: pd.DataFrame,
    metric: str,
    length: str = "avg_length",
    method: str = "spearman",
) -> float:
    """Correlation across models of a metric with their average output length.

    A debiased metric should correlate with length about as much as human
    rankings do (Arena: Spearman 0.35 on the paper's 38 models), not more.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model with ``metric`` and ``length`` (restrict the rows first to
        compare with another benchmark on the same models).
    metric, length : str
    method : {"spearman", "kendall", "pearson"}

    Returns
    -------
    float
        Pairwise-complete correlation (NaN with fewer than two complete rows).

    Examples
    --------
    >>> t = pd.DataFrame({"wr": [1.0, 2, 3], "avg_length": [100, 300, 200]})
    >>> length_correlation(t, "wr")
    0.5
    """
    check_method(method)
    require_columns(table, [metric, length])
    corr, _ = correlate(numeric_column(table, metric), numeric_column(table, length), method)
    return corr
