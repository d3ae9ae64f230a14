"""How gameable is a win-rate metric: verbosity-prompted variants and adversarial submissions.

:func:`gameability` is the relative spread of a metric when the *same* model is
prompted to be verbose or concise, rescaled by the metric's spread across models;
:func:`adversarial_gain` is what an adversarial submission gains under a metric
(Dubois et al., 2024).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError, check_param
from debias.reports.metrics.tables import by_model, numeric_column, require_columns

__all__ = [
    "CONCISE_SUFFIX",
    "GAMEABILITY_KINDS",
    "VERBOSE_SUFFIX",
    "adversarial_gain",
    "gameability",
    "relative_spread",
    "variant_spreads",
]

#: Suffixes of the verbosity-prompted variants of a model (``gpt4_0613_verbose``, ...).
VERBOSE_SUFFIX = "_verbose"
CONCISE_SUFFIX = "_concise"
GAMEABILITY_KINDS = ("verbosity", "conciseness", "both")


def relative_spread(values: Sequence[float]) -> float:
    """Relative spread of some values: sample standard deviation / mean.

    For two values ``a, b`` this is ``√2 · |a − b| / (a + b)``.

    Parameters
    ----------
    values : sequence of float
        At least two finite values with a positive mean.

    Returns
    -------
    float

    Raises
    ------
    ParameterError
        Fewer than two values, a non-finite value, or a mean that is not positive.

    Examples
    --------
    >>> round(relative_spread([10.0, 30.0]), 6) == round(2 ** 0.5 * 20 / 40, 6)
    True
    >>> relative_spread([5.0, 5.0])
    0.0
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ParameterError(f"relative_spread needs at least two finite values; got {x.tolist()}.")
    mean = x.mean()
    if mean <= 0:
        raise ParameterError(
            f"relative_spread needs a positive mean (got {mean:g} from {x.tolist()}): "
            "use a metric on a positive scale such as a win rate in percent."
        )
    return float(x.std(ddof=1) / mean)


def _variant_bases(index: pd.Index, verbose_suffix: str, concise_suffix: str) -> list[str]:
    names = set(index)
    return [m for m in index if (m + verbose_suffix) in names and (m + concise_suffix) in names]


def variant_spreads(
    table: pd.DataFrame,
    metric: str,
    *,
    model_column: str = "model",
    verbose_suffix: str = VERBOSE_SUFFIX,
    concise_suffix: str = CONCISE_SUFFIX,
) -> pd.DataFrame:
    """The verbosity triples of a table and the relative spread of each pair.

    A *base* model is one whose ``<model>_verbose`` and ``<model>_concise`` variants
    are both rows of ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model: ``model_column`` and ``metric``.
    metric : str
        The metric column (e.g. ``"win_rate"``).

    Returns
    -------
    pandas.DataFrame
        One row per base model: ``model, concise, standard, verbose`` (the metric),
        ``spread_verbose`` and ``spread_concise`` (relative spreads of the pairs
        {standard, verbose} and {standard, concise}).

    Raises
    ------
    InputError
        Missing columns or no base model with both variants.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["m", "m_verbose", "m_concise"],
    ...                   "win_rate": [10.0, 30.0, 10.0]})
    >>> variant_spreads(t, "win_rate").round(4).to_dict("records")
    [{'model': 'm', 'concise': 10.0, 'standard': 10.0, 'verbose': 30.0, 'spread_verbose': 0.7071, 'spread_concise': 0.0}]
    """
    by = by_model(table, model_column)
    require_columns(by, [metric])
    values = numeric_column(by, metric)
    bases = _variant_bases(by.index, verbose_suffix, concise_suffix)
    if not bases:
        raise InputError(
            f"No model in the table has both {verbose_suffix!r} and {concise_suffix!r} "
            f"variants (e.g. 'gpt4_0613', 'gpt4_0613{verbose_suffix}', "
            f"'gpt4_0613{concise_suffix}'); gameability needs at least one such triple."
        )
    rows = []
    for m in bases:
        std, verb, conc = (values[m], values[m + verbose_suffix], values[m + concise_suffix])
        triple = [std, verb, conc]
        if any(pd.isna(v) for v in triple):
            continue
        rows.append(
            {
                "model": m,
                "concise": conc,
                "standard": std,
                "verbose": verb,
                "spread_verbose": relative_spread([std, verb]),
                "spread_concise": relative_spread([std, conc]),
            }
        )
    if not rows:
        raise InputError(
            f"Every verbosity triple {bases} has a missing {metric!r} value; nothing to measure."
        )
    return pd.DataFrame(rows)


def _scale_factor(
    by: pd.DataFrame,
    metric: str,
    reference: str,
    quirk: bool,
    verbose_suffix: str,
    concise_suffix: str,
) -> float:
    """k = SD(reference) / SD(metric) across the leaderboard (variants excluded)."""
    names = pd.Series(by.index, index=by.index)
    drop = names.str.endswith(verbose_suffix)
    if not quirk:
        drop |= names.str.endswith(concise_suffix)
    keep = by.loc[~drop.to_numpy()]
    sd_ref = numeric_column(keep, reference).std(ddof=1)
    sd_metric = numeric_column(keep, metric).std(ddof=1)
    if not np.isfinite(sd_metric) or sd_metric == 0 or not np.isfinite(sd_ref):
        raise InputError(
            f"Cannot rescale: the standard deviation of {metric!r} (or {reference!r}) across the "
            f"{len(keep)} leaderboard rows is {sd_metric:g} ({sd_ref:g}); gameability needs a "
            "leaderboard of several models with differing scores."
        )
    return float(sd_ref / sd_metric)


def gameability(
    table: pd.DataFrame,
    metric: str,
    *,
    reference: str = "win_rate",
    kind: str = "verbosity",
    quirk: bool = True,
    model_column: str = "model",
    verbose_suffix: str = VERBOSE_SUFFIX,
    concise_suffix: str = CONCISE_SUFFIX,
) -> float | dict[str, float]:
    """Length gameability of a metric: how much prompting for verbosity/conciseness moves it.

    The paper's definition (Dubois et al., 2024, §4):

    1. for each *base* model ``m`` with both ``m_verbose`` and ``m_concise`` rows,
       the relative spread (sample SD / mean; ``√2·|a−b|/(a+b)`` for two values) of the
       pair {M(m), M(m_verbose)} (verbosity) or {M(m), M(m_concise)} (conciseness);
    2. the average over the base models;
    3. times ``k = SD(reference) / SD(M)`` across the leaderboard's models, so that
       compressing a metric's scale does not count as robustness;
    4. times 100 (percent).

    ``quirk=True`` reproduces the reference's filter for step 3, which was meant to
    remove every variant from the standard deviations but only removes the
    ``_verbose`` rows (the ``_concise`` rows stay in). It is the default because the
    published numbers (LC 6.4% / 13.6%) use it; ``quirk=False`` removes both kinds of
    variant (LC 6.5% / 14.0% on the paper-time leaderboard).

    Parameters
    ----------
    table : pandas.DataFrame
        The whole leaderboard, one row per model: ``model_column``, ``metric`` and
        ``reference`` (percent).
    metric : str
        The metric to assess (e.g. ``"length_controlled_winrate"``).
    reference : str, default "win_rate"
        The metric whose cross-model spread sets the scale (the raw win rate).
    kind : {"verbosity", "conciseness", "both"}
        ``"both"`` returns a dict with ``verbosity``, ``conciseness`` and their
        ``mean`` (the paper's single figure).
    quirk : bool, default True
        Reproduce the reference's ``_verbose``-only filter (see above).
    model_column, verbose_suffix, concise_suffix : str
        Where the model names are and how the variants are named.

    Returns
    -------
    float or dict
        Gameability in percent (lower is better).

    Raises
    ------
    InputError
        Missing columns, no verbosity triple, or a constant metric.
    ParameterError
        An unknown ``kind``.

    Examples
    --------
    A two-model leaderboard with one triple; the raw win rate is its own reference
    (k = 1), so gameability is 100 × the relative spread of the verbose pair:

    >>> t = pd.DataFrame({"model": ["m", "m_verbose", "m_concise", "other"],
    ...                   "win_rate": [10.0, 30.0, 10.0, 50.0]})
    >>> round(gameability(t, "win_rate"), 2)
    70.71
    >>> gameability(t, "win_rate", kind="both")["conciseness"]
    0.0

    Expressing the metric *and* the reference in other units (fractions instead of
    percent) changes nothing; rescaling the metric alone by ``c`` divides the
    gameability by ``c`` (the relative spread is unit-free, ``k`` is not), so
    shrinking a metric's scale cannot make it look less gameable:

    >>> t["half"] = t["win_rate"] / 2
    >>> round(gameability(t, "half"), 2)
    141.42
    >>> t["wr_fraction"], t["half_fraction"] = t["win_rate"] / 100, t["half"] / 100
    >>> round(gameability(t, "half_fraction", reference="wr_fraction"), 2)
    141.42
    """
    check_param("kind", kind, f"one of {GAMEABILITY_KINDS}", kind in GAMEABILITY_KINDS)
    by = by_model(table, model_column)
    require_columns(by, [metric, reference])
    spreads = variant_spreads(
        table,
        metric,
        model_column=model_column,
        verbose_suffix=verbose_suffix,
        concise_suffix=concise_suffix,
    )
    k = _scale_factor(by, metric, reference, quirk, verbose_suffix, concise_suffix)
    verbosity = float(spreads["spread_verbose"].mean() * k * 100)
    conciseness = float(spreads["spread_concise"].mean() * k * 100)
    if kind == "verbosity":
        return verbosity
    if kind == "conciseness":
        return conciseness
    return {
        "verbosity": verbosity,
        "conciseness": conciseness,
        "mean": (verbosity + conciseness) / 2,
    }


# ----------------------------------------------------------------------------- adversarial
def adversarial_gain(
    table: pd.DataFrame,
    metric: str,
    model: str = "gpt4_gamed",
    reference: str = "win_rate",
    *,
    model_column: str = "model",
) -> dict[str, float]:
    """What an adversarial submission gains under ``metric`` compared with ``reference``.

    ``win_rate_gain = M(model) − WR(model)``; ``rank_gain = rank by WR − rank by M``,
    ranks over all rows, descending, ties sharing the smallest rank (pandas
    ``method="min"``), so a positive gain means the model climbed.

    Parameters
    ----------
    table : pandas.DataFrame
        The whole leaderboard (ranks are taken over every row).
    metric : str
        The metric under study.
    model : str, default "gpt4_gamed"
        The adversarial row (AlpacaEval's truncation attack).
    reference : str, default "win_rate"

    Returns
    -------
    dict
        ``win_rate_gain, rank_gain, value, reference_value, rank, reference_rank``.

    Raises
    ------
    InputError
        Missing columns or the model is not in the table.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["a", "b", "gamed"], "win_rate": [30.0, 20.0, 5.0],
    ...                   "lc": [30.0, 20.0, 25.0]})
    >>> adversarial_gain(t, "lc", model="gamed")
    {'win_rate_gain': 20.0, 'rank_gain': 1.0, 'value': 25.0, 'reference_value': 5.0, 'rank': 2.0, 'reference_rank': 3.0}
    """
    by = by_model(table, model_column)
    require_columns(by, [metric, reference])
    if model not in by.index:
        raise InputError(
            f"Model {model!r} is not in the table's {model_column!r} column "
            f"({len(by)} rows, e.g. {list(by.index[:3])})."
        )
    m = numeric_column(by, metric)
    r = numeric_column(by, reference)
    rank_m = m.rank(method="min", ascending=False)
    rank_r = r.rank(method="min", ascending=False)
    return {
        "win_rate_gain": float(m[model] - r[model]),
        "rank_gain": float(rank_r[model] - rank_m[model]),
        "value": float(m[model]),
        "reference_value": float(r[model]),
        "rank": float(rank_m[model]),
        "reference_rank": float(rank_r[model]),
    }


# ----------------------------------------------------------------------------- correlations
