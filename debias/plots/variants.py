"""Plots of the verbosity-prompted variants of models: how gameable is a win rate?

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> t = pd.DataFrame({"model": ["a", "a_concise", "a_verbose"], "win_rate": [10.0, 5.0, 20.0],
...                   "length_controlled_winrate": [12.0, 11.0, 13.0]})
>>> fig = gameability(variants_table(t))
>>> len(fig.axes)
2
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError
from debias.plots.columns import leaderboard_columns
from debias.plots.common import OKABE_ITO, SMALL, short_name, tick_fontsize

__all__ = ["VARIANTS", "gameability", "variants_table"]

VARIANTS = ("concise", "standard", "verbose")


def variants_table(table: pd.DataFrame) -> pd.DataFrame:
    """The verbosity-prompted variants of a leaderboard, one row per (base model, variant).

    Models named ``<m>_concise`` / ``<m>_verbose`` are matched to ``<m>``
    (``standard``); only base models present with at least one variant are kept.

    Parameters
    ----------
    table : pandas.DataFrame
        A leaderboard with ``model, win_rate, lc_win_rate`` (or a published AlpacaEval
        table's ``length_controlled_winrate``, names in the first column or the index).

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
    table = leaderboard_columns(
        table, ["model", "win_rate", "lc_win_rate"], "variants_table", optional=["avg_length"]
    )
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
    table_like = leaderboard_columns(
        table_like, ["model", "variant", "win_rate", "lc_win_rate"], "gameability"
    )
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
                fontsize=SMALL,
                padding=1,
            )
        a.set_xticks(
            x,
            [short_name(b, 22) for b in bases],
            rotation=30 if nb > 3 else 0,
            ha="right" if nb > 3 else "center",
            fontsize=tick_fontsize(nb),
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
        fontsize=SMALL + 1,
        title_fontsize=SMALL + 1,
        loc="outside lower center" if fig.get_layout_engine() is not None else "lower center",
        ncol=3,
        frameon=False,
    )
    fig.suptitle("Gameability: verbosity-prompted variants of each model", fontsize=11)
    return fig
