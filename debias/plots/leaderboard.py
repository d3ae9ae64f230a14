"""Leaderboard plots: raw against controlled win rate, and rank changes.

Each takes a leaderboard table (debias's columns or a published AlpacaEval table's,
:mod:`debias.plots.columns`) and ``ax=None``, and returns the figure.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> t = pd.DataFrame({"model": ["a", "b"], "win_rate": [10.0, 30.0],
...                   "lc_win_rate": [15.0, 25.0], "avg_length": [900.0, 2500.0]})
>>> raw_vs_controlled(t, n_labels=0).axes[0].get_xlabel()
'Raw win rate (%)'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from debias.errors import ParameterError
from debias.plots.columns import leaderboard_columns
from debias.plots.common import GREY, OKABE_ITO, SMALL, new_axes, short_name, signed
from debias.plots.labels import place_labels

__all__ = ["controls_label", "rank_bump", "raw_vs_controlled"]


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
        from debias.model.formula import resolve_formula

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
        lc_win_rate`` and optionally ``avg_length`` (the points' colour); or a published
        AlpacaEval leaderboard (``length_controlled_winrate``, names in the first
        column or the index; :mod:`debias.plots.columns`).
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
    matplotlib.figure.Figure

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.reports.leaderboard import leaderboard
    >>> sim = simulate(n_models=4, n_instructions=120, seed=0)
    >>> table = leaderboard(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    >>> raw_vs_controlled(table, n_labels=2).axes[0].get_ylabel()
    'Length-controlled win rate (%)'
    >>> fig = raw_vs_controlled(table.assign(both=table["lc_win_rate"]), column="both",
    ...                         controls=["length", "markdown"])
    >>> fig.axes[0].get_title().splitlines()[0]
    'Raw vs length- and markdown-controlled win rate'
    """
    own = table.attrs.get("column")  # an audit table's main column (attrs["controls"])
    column = column or own or "lc_win_rate"
    if controls is None and own is not None and column != own:
        controls = ["length"] if column == "lc_win_rate" else None
    table = leaderboard_columns(
        table, ["model", "win_rate", column], "raw_vs_controlled", optional=["avg_length"]
    )
    label = controls_label(_table_controls(table, controls))
    fig, ax = new_axes(ax, figsize=(6.8, 5.4))
    t = table.dropna(subset=["win_rate", column])
    length = t["avg_length"] if "avg_length" in t else pd.Series(np.nan, index=t.index)
    t = pd.DataFrame(
        {"model": t["model"], "win_rate": t["win_rate"], "lc_win_rate": t[column]}
    ).assign(avg_length=pd.to_numeric(length, errors="coerce"))
    coloured = bool(t["avg_length"].notna().any())
    sc = ax.scatter(
        t["win_rate"],
        t["lc_win_rate"],
        c=t["avg_length"] if coloured else OKABE_ITO[0],
        cmap="viridis" if coloured else None,
        s=30,
        edgecolor="black",
        linewidth=0.4,
        zorder=3,
    )
    lo = min(t["win_rate"].min(), t["lc_win_rate"].min())
    hi = max(t["win_rate"].max(), t["lc_win_rate"].max())
    pad = 0.06 * (hi - lo or 1.0)
    lim = (max(lo - pad, -1.0), min(hi + pad, 101.0))
    ax.plot(lim, lim, color=GREY, ls="--", lw=1, zorder=1, label="no change (y = x)")
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
            label=f"baseline ({short_name(baseline, 24)})",
        )
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_aspect("equal", adjustable="box")
    if coloured:
        cb = fig.colorbar(sc, ax=ax, shrink=0.85, pad=0.02)
        cb.set_label("Average output length (characters)")
        cb.ax.tick_params(labelsize=SMALL)
    ax.set_xlabel("Raw win rate (%)")
    ax.set_ylabel(f"{label} win rate (%)")
    ax.set_title(f"Raw vs {label.lower()} win rate\n(labels: models moved most)", fontsize=10)
    ax.legend(loc="upper left", fontsize=SMALL, frameon=False)
    if n_labels:
        moved = (t["lc_win_rate"] - t["win_rate"]).abs().sort_values(ascending=False)
        top = t.loc[moved.index[: int(n_labels)]]
        labels = [
            f"{short_name(m, 28)} ({signed(d, 1)})"
            for m, d in zip(top["model"], top["lc_win_rate"] - top["win_rate"], strict=True)
        ]
        place_labels(
            ax,
            top["win_rate"].to_numpy(),
            top["lc_win_rate"].to_numpy(),
            labels,
            fontsize=SMALL,
            avoid=t[["win_rate", "lc_win_rate"]].to_numpy(float),
        )
    return fig


def rank_bump(table: pd.DataFrame, top: int | None = None, ax=None):
    """Rank by raw win rate → rank by length-controlled win rate, one line per model.

    Ranks are over the whole table (1 = best, ties broken by order). Blue lines
    rise with the correction, vermillion ones fall, grey ones keep their rank.
    The names are the tick labels of the left axis (rank by raw win rate) and
    of a twin right axis (rank by LC win rate, with the change in brackets).

    Parameters
    ----------
    table : pandas.DataFrame
        A leaderboard with ``model, win_rate, lc_win_rate`` (or a published AlpacaEval
        table's ``length_controlled_winrate``).
    top : int, optional
        Draw only the models ranked in the top ``top`` by either score.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.reports.leaderboard import leaderboard
    >>> sim = simulate(n_models=4, n_instructions=120, seed=0)
    >>> table = leaderboard(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    >>> fig = rank_bump(table)
    >>> len(fig.axes[0].get_yticklabels())
    5
    """
    table = leaderboard_columns(table, ["model", "win_rate", "lc_win_rate"], "rank_bump")
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
    width = max(len(short_name(m)) for m in t["model"])
    fig, ax = new_axes(ax, figsize=(3.6 + 0.13 * width, max(3.6, 0.19 * n_rows + 1.6)))
    colour_of = {}
    for r in t.itertuples():
        gain = r.raw_rank - r.lc_rank
        colour = OKABE_ITO[0] if gain > 0 else OKABE_ITO[3] if gain < 0 else GREY
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
        [f"{short_name(m)}  {k}" for m, k in zip(left["model"], left["raw_rank"], strict=True)],
        fontsize=SMALL,
    )
    twin = ax.twinx()
    twin.set_ylim(ylim)
    right = t.sort_values("lc_rank")
    gains = right["raw_rank"] - right["lc_rank"]
    twin.set_yticks(
        right["lc_rank"].to_numpy(),
        [
            f"{k}  {short_name(m)}  ({signed(g, 0)})"
            for m, k, g in zip(right["model"], right["lc_rank"], gains, strict=True)
        ],
        fontsize=SMALL,
    )
    for label, m in zip(twin.get_yticklabels(), right["model"], strict=True):
        if colour_of[m] != GREY:
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
    return fig
