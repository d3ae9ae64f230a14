"""All of the paper's leaderboard metrics for one metric column (:func:`metric_report`)."""

from __future__ import annotations

import pandas as pd

from debias.reports.metrics.correlation import (
    ARENA_COLUMN,
    length_correlation,
)
from debias.reports.metrics.gameability import adversarial_gain, gameability
from debias.reports.metrics.tables import by_model, correlate, find_column, numeric_column

__all__ = ["metric_report"]


def metric_report(
    table: pd.DataFrame,
    metric: str,
    benchmarks: pd.DataFrame | None = None,
    *,
    reference: str = "win_rate",
    arena_column: str = ARENA_COLUMN,
    adversarial_model: str | None = "gpt4_gamed",
    length: str = "avg_length",
    quirk: bool = True,
    method: str = "spearman",
    model_column: str = "model",
) -> dict[str, float]:
    """The paper's per-metric report: gameability, adversarial gain, Arena and length correlations.

    Arena and length correlations are computed on the leaderboard rows that have an
    Arena score in ``benchmarks`` (the paper: 38 models), ``nan`` without ``benchmarks``.

    Parameters
    ----------
    table : pandas.DataFrame
        The whole leaderboard (``model_column``, ``metric``, ``reference``, ``length``).
    metric : str
    benchmarks : pandas.DataFrame, optional
        With ``model_column`` and ``arena_column``.
    adversarial_model : str or None, default "gpt4_gamed"
        ``None`` or absent from the table: the adversarial entries are ``nan``.

    Returns
    -------
    dict
        ``verbosity_gameability, conciseness_gameability, gameability`` (their mean),
        ``adversarial_win_rate_gain, adversarial_rank_gain, arena_correlation,
        length_correlation, n_arena``.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["m", "m_verbose", "m_concise", "o"],
    ...                   "win_rate": [10.0, 30.0, 10.0, 50.0],
    ...                   "avg_length": [1, 3, 1, 2]})
    >>> r = metric_report(t, "win_rate", adversarial_model=None)
    >>> round(r["gameability"], 2), r["n_arena"]
    (35.36, 0)
    """
    g = gameability(
        table, metric, reference=reference, kind="both", quirk=quirk, model_column=model_column
    )
    out = {
        "verbosity_gameability": g["verbosity"],
        "conciseness_gameability": g["conciseness"],
        "gameability": g["mean"],
        "adversarial_win_rate_gain": float("nan"),
        "adversarial_rank_gain": float("nan"),
        "arena_correlation": float("nan"),
        "length_correlation": float("nan"),
        "n_arena": 0,
    }
    by = by_model(table, model_column)
    if adversarial_model is not None and adversarial_model in by.index:
        adv = adversarial_gain(
            table, metric, adversarial_model, reference, model_column=model_column
        )
        out["adversarial_win_rate_gain"] = adv["win_rate_gain"]
        out["adversarial_rank_gain"] = adv["rank_gain"]
    if benchmarks is not None:
        col = find_column(benchmarks, arena_column, "benchmarks")
        arena = numeric_column(by_model(benchmarks, model_column, "benchmarks"), col, "benchmarks")
        arena = arena.reindex(by.index)
        rows = by.loc[arena.notna().to_numpy()]
        corr, n = correlate(numeric_column(rows, metric), arena[rows.index], method)
        out["arena_correlation"] = corr
        out["n_arena"] = n
        if length in by.columns:
            out["length_correlation"] = length_correlation(rows, metric, length, method)
    return out


# ----------------------------------------------------------------------------- alternatives
