"""Judges side by side: each judge's effects with their intervals, one panel per effect.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from debias.simulate.position import simulate_judges
>>> from debias.reports.judges import fit_judges
>>> fit = fit_judges(simulate_judges(n_models=3, n_prompts=60, seed=0).battles)
>>> len(judges_forest(fit.table()).axes)
1
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from debias.errors import ParameterError
from debias.plots.common import GREY, OKABE_ITO, SMALL

__all__ = ["TERM_TITLES", "judges_forest"]

TERM_TITLES = {
    "length": "Length\n(a − b)/(a + b + 1) of characters",
    "markdown": "Markdown\n(a − b)/(a + b + 1) of elements",
    "position": "Position\nshown first vs second (±1)",
    "self_preference": "Self-preference\nown family vs not",
}


def _interval(a, r, y: int, colour: str, hollow: bool = False) -> None:
    if np.isfinite(r["conf_low"]):
        a.plot([r["conf_low"], r["conf_high"]], [y, y], color=colour, lw=2.2)
    face = "white" if hollow else colour
    a.plot(r["estimate"], y, "o", color=colour, mfc=face, ms=6, zorder=3)


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}"


def judges_forest(
    effects: pd.DataFrame, differences: pd.DataFrame | None = None, *, level: float = 0.95, ax=None
):
    """One panel per effect, one row per judge: estimate (log-odds) and its interval.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``term, judge, estimate, conf_low, conf_high`` (and ``note``), as
        :meth:`debias.reports.judges.JudgesFit.table` or ``JudgesAudit.effects``.
        A missing estimate is written as "not estimated" in its row; a row whose judge
        reads ``"judge−reference"`` (an identified difference, as self-preference between
        judges of one family) is drawn hollow in ``judge``'s row.
    differences : pandas.DataFrame, optional
        :func:`debias.reports.judges.compare_judges`: the p-value of the judges' difference
        (the "all equal" test) is written under each panel's title.
    level : float
        The intervals' level (for the axis label).
    ax : matplotlib Axes, optional
        Only for a single effect.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    need = {"term", "judge", "estimate", "conf_low", "conf_high"}
    if not isinstance(effects, pd.DataFrame) or not need <= set(effects.columns):
        raise ParameterError(f"judges_forest() needs a table with columns {sorted(need)}.")
    terms = list(dict.fromkeys(effects["term"]))
    judges = list(dict.fromkeys(j for j in effects["judge"] if "−" not in str(j)))
    if ax is not None and len(terms) != 1:
        raise ParameterError("ax= draws one effect; pass a table with a single term.")
    if ax is None:
        fig, axes = plt.subplots(
            1, len(terms), figsize=(3.1 * len(terms) + 0.8, 0.5 * len(judges) + 1.6), sharey=True
        )
        axes = np.atleast_1d(axes)
    else:
        fig, axes = ax.figure, np.array([ax])
    colours = {j: OKABE_ITO[i % len(OKABE_ITO)] for i, j in enumerate(judges)}
    for a, term in zip(axes, terms, strict=True):
        rows = effects[(effects["term"] == term)]
        by_judge = rows.set_index("judge")
        diffs = {
            str(j).split("−")[0]: (str(j).split("−")[1], r)
            for j, r in by_judge.iterrows()
            if "−" in str(j)
        }
        refs = {ref for ref, _ in diffs.values()}
        for y, judge in enumerate(judges):
            if judge in diffs:  # only the difference to a reference judge is identified
                ref, r = diffs[judge]
                _interval(a, r, y, colours[judge], hollow=True)
                a.annotate(
                    f"minus {ref}",
                    (r["estimate"], y),
                    xytext=(0, 7),
                    textcoords="offset points",
                    ha="center",
                    fontsize=SMALL,
                    color=GREY,
                )
                continue
            if judge not in by_judge.index or not np.isfinite(by_judge.loc[judge, "estimate"]):
                text = "reference (not identified alone)" if judge in refs else "not estimated"
                a.text(
                    0.5,
                    y,
                    text,
                    transform=a.get_yaxis_transform(),
                    ha="center",
                    va="center",
                    color=GREY,
                    fontsize=SMALL,
                )
                continue
            _interval(a, by_judge.loc[judge], y, colours[judge])
        title = TERM_TITLES.get(term, term)
        if differences is not None and len(judges) > 1:
            test = differences[(differences["term"] == term)]
            test = (
                test[
                    test["judge"]
                    == (
                        "all equal"
                        if (test["judge"] == "all equal").any()
                        else test["judge"].iloc[0]
                    )
                ]
                if len(test)
                else test
            )
            if len(test) and np.isfinite(test["p_value"].iloc[0]):
                title += f"\njudges differ: p {_p(test['p_value'].iloc[0])}"
        a.axvline(0, color=GREY, lw=0.8, ls="--")
        a.set_title(title, fontsize=SMALL + 1)
        a.set_xlabel(f"log-odds, {100 * level:g}% interval", fontsize=SMALL)
        a.tick_params(labelsize=SMALL)
    axes[0].set_yticks(range(len(judges)))
    axes[0].set_yticklabels(judges)
    axes[0].set_ylim(len(judges) - 0.5, -0.5)
    fig.suptitle("Judges side by side: effect on the log-odds of winning", fontsize=SMALL + 2)
    fig.tight_layout()
    return fig
