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

Tables are pandas DataFrames with one row per model (a ``model`` column) and
metrics in percent, as returned by :func:`debias.reports.leaderboard.leaderboard` or
:func:`debias.io.read_leaderboard`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.counterfactual import elo as _elo
from debias.errors import InputError, ParameterError, check_param

#: Chatbot Arena column of AlpacaEval's ``benchmarks.csv`` at paper time (one-line name).
ARENA_COLUMN = "Arena Elo [Feb 2, 2024]"
#: Suffixes of the verbosity-prompted variants of a model (``gpt4_0613_verbose``, ...).
VERBOSE_SUFFIX = "_verbose"
CONCISE_SUFFIX = "_concise"
CORRELATION_METHODS = ("spearman", "kendall", "pearson")
GAMEABILITY_KINDS = ("verbosity", "conciseness", "both")

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


# ----------------------------------------------------------------------------- helpers
def _require_columns(table: pd.DataFrame, columns: Iterable[str], what: str = "table") -> None:
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(table).__name__}.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"{what} is missing column(s) {missing}; it has {list(map(str, table.columns))}."
        )


def _by_model(table: pd.DataFrame, model_column: str, what: str = "table") -> pd.DataFrame:
    """The table indexed by model name; duplicate names are an error."""
    _require_columns(table, [model_column], what)
    names = table[model_column].astype(str)
    dup = names[names.duplicated()].unique()
    if len(dup):
        raise InputError(
            f"{what} has duplicate model names in {model_column!r}: {list(dup[:5])}; "
            "give one row per model."
        )
    return table.set_axis(pd.Index(names, name=model_column), axis=0)


def _numeric(table: pd.DataFrame, column: str, what: str = "table") -> pd.Series:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        raise InputError(
            f"{what} column {column!r} has non-numeric values (e.g. {table[column][bad].iloc[0]!r})."
        )
    return values.astype(float)


def _check_method(method: str) -> None:
    check_param("method", method, f"one of {CORRELATION_METHODS}", method in CORRELATION_METHODS)


def _correlate(a: pd.Series, b: pd.Series, method: str) -> tuple[float, int]:
    """Pairwise-complete correlation of two aligned Series, and the number of pairs."""
    pair = pd.concat([a, b], axis=1).dropna()
    n = len(pair)
    if n < 2:
        return float("nan"), n
    return float(pair.iloc[:, 0].corr(pair.iloc[:, 1], method=method)), n


# ----------------------------------------------------------------------------- gameability
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
    by = _by_model(table, model_column)
    _require_columns(by, [metric])
    values = _numeric(by, metric)
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
    sd_ref = _numeric(keep, reference).std(ddof=1)
    sd_metric = _numeric(keep, metric).std(ddof=1)
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
    by = _by_model(table, model_column)
    _require_columns(by, [metric, reference])
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
    by = _by_model(table, model_column)
    _require_columns(by, [metric, reference])
    if model not in by.index:
        raise InputError(
            f"Model {model!r} is not in the table's {model_column!r} column "
            f"({len(by)} rows, e.g. {list(by.index[:3])})."
        )
    m = _numeric(by, metric)
    r = _numeric(by, reference)
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
def _find_column(table: pd.DataFrame, name: str, what: str) -> str:
    """The column whose one-line name equals ``name``'s (``"Arena Elo\\n[...]"`` matches)."""
    from debias.io import normalise_column_name

    if name in table.columns:
        return name
    target = normalise_column_name(name)
    for c in table.columns:
        if normalise_column_name(c) == target:
            return c
    raise InputError(
        f"{what} has no column {name!r}; its columns are "
        f"{[normalise_column_name(c) for c in table.columns]}."
    )


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
    _check_method(method)
    check_param(
        "min_shared", min_shared, "an int >= 2", isinstance(min_shared, int) and min_shared >= 2
    )
    by = _by_model(table, on, "table")
    ref_col = _find_column(benchmarks, reference, "benchmarks")
    bm = _by_model(benchmarks, on, "benchmarks")
    ref = _numeric(bm, ref_col, "benchmarks").reindex(by.index)
    if metrics is None:
        metrics = [c for c in by.columns if c != on and pd.api.types.is_numeric_dtype(by[c])]
    else:
        metrics = list(metrics)
        _require_columns(by, metrics)
    rows = []
    for m in metrics:
        corr, n = _correlate(_numeric(by, m), ref, method)
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

    _check_method(method)
    check_param(
        "min_shared", min_shared, "an int >= 2", isinstance(min_shared, int) and min_shared >= 2
    )
    arena = _find_column(benchmarks_df, arena_column, "benchmarks_df")
    arena_values = _numeric(benchmarks_df, arena, "benchmarks_df")
    rows = []
    for c in benchmarks_df.columns:
        if c in (arena, model_column) or not pd.api.types.is_numeric_dtype(benchmarks_df[c]):
            continue
        corr, n = _correlate(_numeric(benchmarks_df, c, "benchmarks_df"), arena_values, method)
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
    _check_method(method)
    _require_columns(table, [metric, length])
    corr, _ = _correlate(_numeric(table, metric), _numeric(table, length), method)
    return corr


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
    by = _by_model(table, model_column)
    if adversarial_model is not None and adversarial_model in by.index:
        adv = adversarial_gain(
            table, metric, adversarial_model, reference, model_column=model_column
        )
        out["adversarial_win_rate_gain"] = adv["win_rate_gain"]
        out["adversarial_rank_gain"] = adv["rank_gain"]
    if benchmarks is not None:
        col = _find_column(benchmarks, arena_column, "benchmarks")
        arena = _numeric(_by_model(benchmarks, model_column, "benchmarks"), col, "benchmarks")
        arena = arena.reindex(by.index)
        rows = by.loc[arena.notna().to_numpy()]
        corr, n = _correlate(_numeric(rows, metric), arena[rows.index], method)
        out["arena_correlation"] = corr
        out["n_arena"] = n
        if length in by.columns:
            out["length_correlation"] = length_correlation(rows, metric, length, method)
    return out


# ----------------------------------------------------------------------------- alternatives
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
    _require_columns(table, [win_rate, length])
    if baseline_length is None:
        baseline = baseline if baseline is not None else table.attrs.get("baseline")
        if baseline is None:
            raise ParameterError(
                "length_normalized_win_rate needs the baseline: pass baseline='<model name>' "
                "(a row of the table) or baseline_length=<average length in characters>."
            )
        by = _by_model(table, model_column)
        if baseline not in by.index:
            raise InputError(
                f"Baseline {baseline!r} is not in the table's {model_column!r} column; pass "
                "baseline_length= instead."
            )
        baseline_length = float(_numeric(by, length)[baseline])
    wr = _numeric(table, win_rate)
    lengths = _numeric(table, length)
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
    _require_columns(
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
