"""The paper's alternative length corrections, to compare with the GLM, and win rate → Elo.

- :func:`length_normalized_win_rate`, :func:`length_balanced_win_rate`;
- :func:`elo_from_win_rate`: win rate against a rated baseline → Elo.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.counterfactual import elo as _elo
from debias.errors import InputError, ParameterError, check_param
from debias.reports.metrics.tables import by_model, numeric_column, require_columns

__all__ = ["elo_from_win_rate", "length_balanced_win_rate", "length_normalized_win_rate"]


def length_normalized_win_rate(
    table: pd.DataFrame,
    *,
    baseline: str | None = None,
    baseline_length: float | None = None,
    temperature: float = 500.0,
    win_rate: str = "win_rate",
    length: str = "avg_length",
    model_column: str = "model",
) -> pd.Series:
    """The paper's length-normalised win rate (an alternative to the GLM).

    Definition (the one behind the paper's method comparison, Table "G":
    Arena Spearman 0.96, gameability 15%, adversarial gain 3.6)::

        WR_norm(m) = WR(m) · 2 · σ((L_baseline − L_m) / T),   clipped to [0, 100]

    with σ the logistic function, ``L`` the average output length in characters
    and temperature ``T = 500`` characters. The factor is 1 at equal average
    lengths (the baseline stays at 50), bounded in (0, 2), below 1 for models
    longer than the baseline and above 1 for shorter ones. It is a per-model
    correction of the *average* lengths: it needs only the leaderboard.

    (A plain ratio ``WR · L_baseline / L_m`` does not match the paper: it rewards
    the truncation attack without bound, e.g. ``gpt4_gamed`` 3.7 → 100.)

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model with ``win_rate`` (percent) and ``length``.
    baseline : str, optional
        The baseline's name, a row of ``table`` (its length is ``L_baseline``).
        Default: ``table.attrs["baseline"]`` (set by :func:`debias.reports.leaderboard.leaderboard`).
    baseline_length : float, optional
        ``L_baseline`` directly, instead of ``baseline``.
    temperature : float, default 500
        ``T`` in characters.

    Returns
    -------
    pandas.Series
        Percent, aligned with ``table``'s index, named ``length_normalized_win_rate``.

    Raises
    ------
    ParameterError
        No baseline given, or a non-positive temperature.
    InputError
        Missing columns or the baseline is not in the table.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["base", "long", "short"], "win_rate": [50.0, 30.0, 10.0],
    ...                   "avg_length": [1000, 1500, 500]})
    >>> length_normalized_win_rate(t, baseline="base").round(2).tolist()
    [50.0, 16.14, 14.62]
    """
    check_param(
        "temperature",
        temperature,
        "a float in (0, inf)",
        np.isfinite(temperature) and temperature > 0,
    )
    require_columns(table, [win_rate, length])
    if baseline_length is None:
        baseline = baseline if baseline is not None else table.attrs.get("baseline")
        if baseline is None:
            raise ParameterError(
                "length_normalized_win_rate needs the baseline: pass baseline='<model name>' "
                "(a row of the table) or baseline_length=<average length in characters>."
            )
        by = by_model(table, model_column)
        if baseline not in by.index:
            raise InputError(
                f"Baseline {baseline!r} is not in the table's {model_column!r} column; pass "
                "baseline_length= instead."
            )
        baseline_length = float(numeric_column(by, length)[baseline])
    wr = numeric_column(table, win_rate)
    lengths = numeric_column(table, length)
    factor = 2 * expit((float(baseline_length) - lengths) / temperature)
    return (wr * factor).clip(0, 100).rename("length_normalized_win_rate")


def length_balanced_win_rate(
    comparisons,
    *,
    length: Callable[[str], float] = len,
    drop_empty_outputs: bool = True,
) -> pd.DataFrame:
    """The paper's length-balanced win rate (an alternative to the GLM; needs judgments).

    Definition: stratify each model's judgments by whether its output is
    **longer** or **shorter** than the baseline's (characters by default), take the
    win rate (mean P(model preferred) × 100) within each stratum, and average the two
    strata with equal weight::

        WR_bal(m) = (WR(m | model longer) + WR(m | model shorter)) / 2

    As in the reference: judgments with outputs of exactly equal length belong to
    neither stratum; judgments whose model output is empty are dropped
    (``drop_empty_outputs``); judgments without a verdict (NaN) are ignored; and
    when one stratum is empty both are replaced by the overall win rate (so the
    baseline against itself is 50). Reproduces the paper's Table "G" row
    (Arena 0.95, gameability 15%, adversarial gain 40.8: the truncation attack wins
    every long answer it keeps, and that stratum counts half).

    Parameters
    ----------
    comparisons : Comparisons or pandas.DataFrame
        Judgments with ``model, baseline, output_model, output_baseline, preference``
        (probabilities in [0, 1]).
    length : callable, default len
        Length of one output (characters).
    drop_empty_outputs : bool, default True

    Returns
    -------
    pandas.DataFrame
        One row per (model, baseline): ``model, baseline, n_longer, n_shorter, n_equal,
        win_rate_longer, win_rate_shorter, win_rate, balanced_win_rate`` (percent),
        sorted by ``balanced_win_rate`` descending.

    Raises
    ------
    InputError
        Missing columns.

    Examples
    --------
    >>> df = pd.DataFrame({"model": "m", "baseline": "b",
    ...                    "output_model": ["long answer", "long answer", "s"],
    ...                    "output_baseline": ["mid", "mid", "mid"],
    ...                    "preference": [1.0, 0.5, 0.0]})
    >>> length_balanced_win_rate(df)[["model", "win_rate", "balanced_win_rate"]]
      model  win_rate  balanced_win_rate
    0     m      50.0               37.5
    """
    frame = getattr(comparisons, "data", comparisons)
    require_columns(
        frame,
        ["model", "baseline", "output_model", "output_baseline", "preference"],
        "comparisons",
    )
    df = frame[["model", "baseline", "output_model", "output_baseline", "preference"]]
    len_model = df["output_model"].fillna("").astype(str).map(length).astype(float)
    len_base = df["output_baseline"].fillna("").astype(str).map(length).astype(float)
    pref = pd.to_numeric(df["preference"], errors="coerce")
    keep = pref.notna()
    if drop_empty_outputs:
        keep &= len_model > 0
    work = pd.DataFrame(
        {
            "model": df["model"],
            "baseline": df["baseline"],
            "pref": pref,
            "longer": len_model > len_base,
            "shorter": len_model < len_base,
        }
    )[keep.to_numpy()]
    rows = []
    for (model, base), g in work.groupby(["model", "baseline"], sort=False):
        overall = g["pref"].mean() * 100
        n_longer, n_shorter = int(g["longer"].sum()), int(g["shorter"].sum())
        if n_longer and n_shorter:
            wr_long = g.loc[g["longer"], "pref"].mean() * 100
            wr_short = g.loc[g["shorter"], "pref"].mean() * 100
        else:
            wr_long = wr_short = overall
        rows.append(
            {
                "model": model,
                "baseline": base,
                "n_longer": n_longer,
                "n_shorter": n_shorter,
                "n_equal": len(g) - n_longer - n_shorter,
                "win_rate_longer": float(wr_long),
                "win_rate_shorter": float(wr_short),
                "win_rate": float(overall),
                "balanced_win_rate": float((wr_long + wr_short) / 2),
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "model",
            "baseline",
            "n_longer",
            "n_shorter",
            "n_equal",
            "win_rate_longer",
            "win_rate_shorter",
            "win_rate",
            "balanced_win_rate",
        ],
    )
    return out.sort_values("balanced_win_rate", ascending=False, kind="stable").reset_index(
        drop=True
    )


def elo_from_win_rate(win_rate_percent, anchor: float = 1251.0):
    """Elo from a win rate (percent) against a baseline rated ``anchor``.

    ``400 · log10(p / (1 − p)) + anchor`` (the same as :func:`debias.counterfactual.elo`;
    1251 is gpt4_1106_preview's Arena Elo of Feb 2, 2024).

    Examples
    --------
    >>> round(elo_from_win_rate(50.0), 1)
    1251.0
    >>> round(elo_from_win_rate(75.0, anchor=1000), 1)
    1190.8
    """
    return _elo(win_rate_percent, anchor=anchor)
