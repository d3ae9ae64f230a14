"""Plots of leaderboards: raw vs controlled, rank changes, gameability, matrices.

Re-exported by :mod:`debias.plots` (import them from there).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> t = pd.DataFrame({"model": ["a", "b"], "win_rate": [10.0, 30.0],
...                   "lc_win_rate": [15.0, 25.0], "avg_length": [900.0, 2500.0]})
>>> raw_vs_controlled(t, n_labels=0).get_xlabel()
'Raw win rate (%)'
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from debias.errors import InputError, ParameterError
from debias.plot_helpers import (
    _GREY,
    _SMALL,
    OKABE_ITO,
    VARIANTS,
    _check_table,
    _new_axes,
    _place_labels,
    _short,
    _tick_fontsize,
)


# ============================================================================ table plots
def controls_label(controls) -> str:
    """``["length", "markdown"]`` -> ``"Length- and markdown-controlled"``.

    Examples
    --------
    >>> controls_label(["length"]), controls_label(["length", "markdown", "words"])
    ('Length-controlled', 'Length-, markdown- and words-controlled')
    """
    names = [f"{c}-" for c in controls] or ["length-"]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text[0].upper() + text[1:] + "controlled"


def _table_controls(table: pd.DataFrame, controls) -> list[str]:
    """What a table's controlled win rate controls: given, ``attrs``, or the formula's mediators."""
    if controls is not None:
        return [controls] if isinstance(controls, str) else list(controls)
    if table.attrs.get("controls"):
        return list(table.attrs["controls"])
    formula = table.attrs.get("formula")
    if formula:
        from debias.errors import DebiasError
        from debias.formula import resolve_formula

        try:
            return list(resolve_formula(formula).mediators) or ["length"]
        except DebiasError:  # a label only: fall back to the leaderboard's default
            pass
    return ["length"]


def raw_vs_controlled(
    table: pd.DataFrame, n_labels: int = 6, ax=None, *, column: str | None = None, controls=None
):
    """Raw against controlled win rate, coloured by average length.

    Points above the diagonal gain from the correction (typically short
    answers), below it lose. The ``n_labels`` models moved most are named
    (labels that cannot be placed without overlap are skipped). The baseline
    (``table.attrs["baseline"]``, set by the leaderboard) is circled.

    Parameters
    ----------
    table : pandas.DataFrame
        A leaderboard (:func:`debias.reports.leaderboard.leaderboard`): ``model, win_rate,
        lc_win_rate, avg_length``.
    n_labels : int, default 6
    ax : matplotlib.axes.Axes, optional
    column : str, optional
        The controlled win-rate column (e.g. an audit's
        ``length_markdown_controlled_win_rate``). Default: ``table.attrs["column"]``
        (set by :meth:`AuditReport.leaderboard_table`), else ``lc_win_rate``.
    controls : sequence of str, optional
        What that column controls, for the axis label and title. Default:
        ``table.attrs["controls"]``, else the mediators of ``table.attrs["formula"]``
        (set by the leaderboard), else length.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.reports.leaderboard import leaderboard
    >>> sim = simulate(n_models=4, n_instructions=120, seed=0)
    >>> table = leaderboard(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    >>> raw_vs_controlled(table, n_labels=2).get_ylabel()
    'Length-controlled win rate (%)'
    >>> ax = raw_vs_controlled(table.assign(both=table["lc_win_rate"]), column="both",
    ...                        controls=["length", "markdown"])
    >>> ax.get_title().splitlines()[0]
    'Raw vs length- and markdown-controlled win rate'
    """
    own = table.attrs.get("column")  # an audit table's main column (attrs["controls"])
    column = column or own or "lc_win_rate"
    if controls is None and own is not None and column != own:
        controls = ["length"] if column == "lc_win_rate" else None
    _check_table(table, ["model", "win_rate", column, "avg_length"], "raw_vs_controlled")
    label = controls_label(_table_controls(table, controls))
    fig, ax = _new_axes(ax, figsize=(6.8, 5.4))
    t = table.dropna(subset=["win_rate", column])
    t = t[["model", "win_rate", "avg_length"]].assign(lc_win_rate=t[column])  # the y column
    sc = ax.scatter(
        t["win_rate"],
        t["lc_win_rate"],
        c=t["avg_length"],
        cmap="viridis",
        s=30,
        edgecolor="black",
        linewidth=0.4,
        zorder=3,
    )
    lo = min(t["win_rate"].min(), t["lc_win_rate"].min())
    hi = max(t["win_rate"].max(), t["lc_win_rate"].max())
    pad = 0.06 * (hi - lo or 1.0)
    lim = (max(lo - pad, -1.0), min(hi + pad, 101.0))
    ax.plot(lim, lim, color=_GREY, ls="--", lw=1, zorder=1, label="no change (y = x)")
    baseline = table.attrs.get("baseline")
    if baseline is not None and (t["model"] == baseline).any():
        b = t[t["model"] == baseline]
        ax.scatter(
            b["win_rate"],
            b["lc_win_rate"],
            marker="o",
            s=110,
            facecolor="none",
            edgecolor="black",
            linewidth=1.2,
            zorder=4,
            label=f"baseline ({_short(baseline, 24)})",
        )
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_aspect("equal", adjustable="box")
    cb = ax.figure.colorbar(sc, ax=ax, shrink=0.85, pad=0.02)
    cb.set_label("Average output length (characters)")
    cb.ax.tick_params(labelsize=_SMALL)
    ax.set_xlabel("Raw win rate (%)")
    ax.set_ylabel(f"{label} win rate (%)")
    ax.set_title(f"Raw vs {label.lower()} win rate\n(labels: models moved most)", fontsize=10)
    ax.legend(loc="upper left", fontsize=_SMALL, frameon=False)
    if n_labels:
        moved = (t["lc_win_rate"] - t["win_rate"]).abs().sort_values(ascending=False)
        top = t.loc[moved.index[: int(n_labels)]]
        labels = [
            f"{_short(m, 24)} ({d:+.1f})"
            for m, d in zip(top["model"], top["lc_win_rate"] - top["win_rate"], strict=True)
        ]
        _place_labels(
            ax,
            top["win_rate"].to_numpy(),
            top["lc_win_rate"].to_numpy(),
            labels,
            fontsize=_SMALL,
            avoid=t[["win_rate", "lc_win_rate"]].to_numpy(float),
        )
    return ax


def rank_bump(table: pd.DataFrame, top: int | None = None, ax=None):
    """Rank by raw win rate → rank by length-controlled win rate, one line per model.

    Ranks are over the whole table (1 = best, ties broken by order). Blue lines
    rise with the correction, vermillion ones fall, grey ones keep their rank.
    The names are the tick labels of the left axis (rank by raw win rate) and
    of a twin right axis (rank by LC win rate, with the change in brackets).

    Parameters
    ----------
    table : pandas.DataFrame
        A leaderboard with ``model, win_rate, lc_win_rate``.
    top : int, optional
        Draw only the models ranked in the top ``top`` by either score.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.reports.leaderboard import leaderboard
    >>> sim = simulate(n_models=4, n_instructions=120, seed=0)
    >>> table = leaderboard(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    >>> ax = rank_bump(table)
    >>> len(ax.get_yticklabels())
    5
    """
    _check_table(table, ["model", "win_rate", "lc_win_rate"], "rank_bump")
    t = table.dropna(subset=["win_rate", "lc_win_rate"]).reset_index(drop=True)
    t = t.assign(
        raw_rank=t["win_rate"].rank(ascending=False, method="first").astype(int),
        lc_rank=t["lc_win_rate"].rank(ascending=False, method="first").astype(int),
    )
    if top is not None:
        if not isinstance(top, (int, np.integer)) or top < 1:
            raise ParameterError(f"The 'top' parameter must be an int >= 1. Got {top!r} instead.")
        t = t[(t["raw_rank"] <= top) | (t["lc_rank"] <= top)]
    n_rows = int(max(t["raw_rank"].max(), t["lc_rank"].max()))
    width = max(len(_short(m)) for m in t["model"])
    fig, ax = _new_axes(ax, figsize=(3.6 + 0.13 * width, max(3.6, 0.19 * n_rows + 1.6)))
    colour_of = {}
    for r in t.itertuples():
        gain = r.raw_rank - r.lc_rank
        colour = OKABE_ITO[0] if gain > 0 else OKABE_ITO[3] if gain < 0 else _GREY
        colour_of[r.model] = colour
        ax.plot([0, 1], [r.raw_rank, r.lc_rank], color=colour, lw=1.3, marker="o", ms=3)
    ylim = (n_rows + 0.7, 0.3)
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(ylim)
    # Names are the tick labels of the left axis (rank by raw) and of a twin right axis
    # (rank by LC): matplotlib then keeps them clear of the axis labels and the layout.
    left = t.sort_values("raw_rank")
    ax.set_yticks(
        left["raw_rank"].to_numpy(),
        [f"{_short(m)}  {k}" for m, k in zip(left["model"], left["raw_rank"], strict=True)],
        fontsize=_SMALL,
    )
    twin = ax.twinx()
    twin.set_ylim(ylim)
    right = t.sort_values("lc_rank")
    gains = right["raw_rank"] - right["lc_rank"]
    twin.set_yticks(
        right["lc_rank"].to_numpy(),
        [
            f"{k}  {_short(m)}  ({g:+d})"
            for m, k, g in zip(right["model"], right["lc_rank"], gains, strict=True)
        ],
        fontsize=_SMALL,
    )
    for label, m in zip(twin.get_yticklabels(), right["model"], strict=True):
        if colour_of[m] != _GREY:
            label.set_color(colour_of[m])
    for a in (ax, twin):
        a.tick_params(axis="y", length=0, pad=3)
        for side in ("left", "right", "bottom", "top"):
            a.spines[side].set_visible(False)
    ax.set_xticks([0, 1], ["raw\nwin rate", "LC\nwin rate"], fontsize=9)
    ax.tick_params(axis="x", length=0)
    ax.xaxis.tick_top()
    ax.set_ylabel("Rank by raw win rate (1 = best)")
    twin.set_ylabel("Rank by LC win rate (1 = best)")
    ax.set_xlabel(
        "Blue: rises with length control; vermillion: falls\n(rank change in brackets)",
        fontsize=9,
    )
    ax.set_title("Leaderboard ranks before and after length control", fontsize=10)
    return ax


def variants_table(table: pd.DataFrame) -> pd.DataFrame:
    """The verbosity-prompted variants of a leaderboard, one row per (base model, variant).

    Models named ``<m>_concise`` / ``<m>_verbose`` are matched to ``<m>``
    (``standard``); only base models present with at least one variant are kept.

    Parameters
    ----------
    table : pandas.DataFrame
        A leaderboard with ``model, win_rate, lc_win_rate``.

    Returns
    -------
    pandas.DataFrame
        ``model`` (the base model), ``variant`` (concise, standard, verbose),
        ``win_rate``, ``lc_win_rate`` (percent), plus ``avg_length`` when given.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["a", "a_concise", "a_verbose", "b"],
    ...                   "win_rate": [10.0, 5.0, 20.0, 30.0], "lc_win_rate": [12.0, 11.0, 13.0, 31.0]})
    >>> variants_table(t)
      model   variant  win_rate  lc_win_rate
    0     a   concise       5.0         11.0
    1     a  standard      10.0         12.0
    2     a   verbose      20.0         13.0
    """
    _check_table(table, ["model", "win_rate", "lc_win_rate"], "variants_table")
    cols = ["win_rate", "lc_win_rate"] + (["avg_length"] if "avg_length" in table else [])
    by_name = table.set_index("model")
    rows = []
    names = set(by_name.index)
    bases = sorted(
        {
            re.sub(r"_(concise|verbose)$", "", m)
            for m in names
            if re.search(r"_(concise|verbose)$", m)
        }
    )
    for base in bases:
        if base not in names:
            continue
        for variant in VARIANTS:
            name = base if variant == "standard" else f"{base}_{variant}"
            if name in names:
                rows.append(
                    {"model": base, "variant": variant, **by_name.loc[name, cols].to_dict()}
                )
    return pd.DataFrame(rows, columns=["model", "variant", *cols])


def gameability(table_like: pd.DataFrame, ax=None):
    """Win rates of concise / standard / verbose variants, raw and length-controlled.

    A metric that is hard to game keeps the three bars of a model level; the raw
    win rate typically rises with verbosity.

    Parameters
    ----------
    table_like : pandas.DataFrame
        ``model, variant, win_rate, lc_win_rate`` (see :func:`variants_table`).
    ax : sequence of two Axes, optional
        Panels for the raw and the length-controlled win rates.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["a"] * 3, "variant": ["concise", "standard", "verbose"],
    ...                   "win_rate": [5.0, 10.0, 20.0], "lc_win_rate": [11.0, 12.0, 13.0]})
    >>> fig = gameability(t)
    >>> [a.get_title() for a in fig.axes]
    ['Raw win rate', 'Length-controlled win rate']
    """
    _check_table(table_like, ["model", "variant", "win_rate", "lc_win_rate"], "gameability")
    bad = sorted(set(table_like["variant"]) - set(VARIANTS))
    if bad:
        raise InputError(f"gameability: unknown variant(s) {bad}; expected {list(VARIANTS)}.")
    bases = list(dict.fromkeys(table_like["model"]))
    nb = len(bases)
    if ax is None:
        fig, axes = plt.subplots(
            1,
            2,
            figsize=(max(7.5, 1.6 * nb + 3), 4.6),
            sharey=True,
            layout="constrained",
        )
    else:
        axes = list(np.atleast_1d(ax))
        if len(axes) != 2:
            raise ParameterError(f"gameability draws two panels; got {len(axes)} Axes.")
        fig = axes[0].figure
    colours = {"concise": OKABE_ITO[5], "standard": OKABE_ITO[0], "verbose": OKABE_ITO[1]}
    hatches = {"concise": "//", "standard": "", "verbose": ".."}
    w = 0.26
    x = np.arange(nb)
    ymax = float(table_like[["win_rate", "lc_win_rate"]].max().max())
    for a, col, title in zip(
        axes,
        ("win_rate", "lc_win_rate"),
        ("Raw win rate", "Length-controlled win rate"),
        strict=True,
    ):
        for k, variant in enumerate(VARIANTS):
            sub = table_like[table_like["variant"] == variant].set_index("model")
            vals = sub[col].reindex(bases).to_numpy(float)
            bars = a.bar(
                x + (k - 1) * w,
                vals,
                width=w,
                color=colours[variant],
                hatch=hatches[variant],
                edgecolor="black",
                linewidth=0.5,
                label=variant,
            )
            a.bar_label(
                bars,
                labels=["" if np.isnan(v) else f"{v:.0f}" for v in vals],
                fontsize=_SMALL,
                padding=1,
            )
        a.set_xticks(
            x,
            [_short(b, 22) for b in bases],
            rotation=30 if nb > 3 else 0,
            ha="right" if nb > 3 else "center",
            fontsize=_tick_fontsize(nb),
        )
        a.set_title(title, fontsize=10)
        a.set_xlabel("Base model")
        a.grid(axis="y", color="#DDDDDD", lw=0.6)
        a.set_axisbelow(True)
    axes[0].set_ylabel("Win rate against the baseline (%)")
    axes[0].set_ylim(0, ymax * 1.18 + 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        title="Variant",
        fontsize=_SMALL + 1,
        title_fontsize=_SMALL + 1,
        loc="outside lower center" if fig.get_layout_engine() is not None else "lower center",
        ncol=3,
        frameon=False,
    )
    fig.suptitle("Gameability: verbosity-prompted variants of each model", fontsize=11)
    return fig


def winrate_heatmap(matrix: pd.DataFrame, annotate: bool | None = None, ax=None):
    """A win-rate matrix (percent; row model against column model), centred at 50.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square, percent (e.g. :func:`debias.counterfactual.winrate_matrix`).
    annotate : bool, optional
        Write the value in each cell (default: when at most 20 models).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> m = pd.DataFrame([[50.0, 70.0], [30.0, 50.0]], index=["a", "b"], columns=["a", "b"])
    >>> len(winrate_heatmap(m).texts)
    4
    """
    if not isinstance(matrix, pd.DataFrame) or matrix.shape[0] != matrix.shape[1]:
        raise InputError("winrate_heatmap needs a square DataFrame (rows and columns: models).")
    n = matrix.shape[0]
    annotate = n <= 20 if annotate is None else annotate
    cell = 0.5 if n <= 12 else 0.38 if n <= 20 else 0.2
    side = max(4.0, cell * n + 2.4)
    fig, ax = _new_axes(ax, figsize=(side + 1.0, side))
    vals = matrix.to_numpy(float)
    norm = TwoSlopeNorm(
        vcenter=50.0, vmin=min(0.0, np.nanmin(vals)), vmax=max(100.0, np.nanmax(vals))
    )
    im = ax.imshow(vals, cmap="RdBu", norm=norm, aspect="equal")
    fs = _tick_fontsize(n)
    ax.set_xticks(
        range(n),
        [_short(c, 24) for c in matrix.columns],
        rotation=45,
        ha="right",
        rotation_mode="anchor",
        fontsize=fs,
    )
    ax.set_yticks(range(n), [_short(r, 24) for r in matrix.index], fontsize=fs)
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
                    fontsize=_SMALL,
                    color="white" if dark else "black",
                )
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    cb.set_label("Win rate of row model vs column model (%)")
    cb.ax.tick_params(labelsize=_SMALL)
    ax.set_xlabel("Baseline (column model)")
    ax.set_ylabel("Model (row)")
    ax.set_title("Controlled win rate of each model against each other (%)", fontsize=10)
    return ax


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
    matplotlib.axes.Axes

    Examples
    --------
    >>> s = pd.Series({"AlpacaEval 2.0": 0.94, "LC AlpacaEval 2.0": 0.98, "Length": 0.35})
    >>> [t.get_text() for t in benchmark_correlation(s).texts]
    ['0.35', '0.94', '0.98']
    """
    if not isinstance(corr_series, pd.Series) or corr_series.empty:
        raise InputError(
            "benchmark_correlation needs a non-empty pandas Series (index: benchmarks)."
        )
    s = corr_series.dropna().astype(float).sort_values()
    n = len(s)
    fig, ax = _new_axes(ax, figsize=(max(5.0, 0.85 * n + 2.0), 2.9))
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
            fontsize=9 if n <= 14 else _SMALL,
            color="white" if light else "black",
        )
    ax.set_xticks(
        range(n),
        [_short(b, 26) for b in s.index],
        rotation=40,
        ha="right",
        rotation_mode="anchor",
        fontsize=_tick_fontsize(n),
    )
    ax.set_yticks([])
    ax.set_ylabel("Chatbot Arena\n(Elo ranking)", fontsize=9)
    ax.set_xlabel("Benchmark")
    cb = ax.figure.colorbar(im, ax=ax, pad=0.02, fraction=0.05)
    cb.set_label("Spearman ρ", fontsize=9)
    cb.ax.tick_params(labelsize=_SMALL)
    ax.set_title("Spearman correlation with Chatbot Arena (ascending)", fontsize=10)
    return ax
