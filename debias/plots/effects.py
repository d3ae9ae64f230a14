"""Effect plots of a fitted judge: the preference against a mediator, and slopes by model.

Units: mediator differences are *model − baseline* in the mediator's own unit
(characters for ``length``, words for ``words``, counts for markdown elements);
probabilities are in [0, 1].

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from debias.simulate import simulate
>>> from debias.model.glm import PreferenceGLM
>>> sim = simulate(n_models=3, n_instructions=120, seed=0)
>>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
>>> len(coefficient_forest(fit).axes[0].get_yticklabels())
3
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

from debias.counterfactual import apply_at
from debias.errors import ParameterError
from debias.model.separation import is_nearly_separated
from debias.plots.common import (
    GREY,
    OKABE_ITO,
    SMALL,
    Z95,
    binned_means,
    check_fit,
    check_mediator,
    fit_models,
    mediator_label,
    new_axes,
    pick_spread,
    short_name,
    tick_fontsize,
)

__all__ = ["coefficient_forest", "length_effect"]


def length_effect(fit, models=None, mediator: str = "length", n_bins: int = 10, ax=None):
    """Predicted P(model preferred) against the mediator difference, with binned data.

    For each model, the curve is the model's predicted preference averaged over
    its own rows when the difference *model − baseline* of ``mediator`` is set to
    each value of a grid (the other mediators and the difficulty stay as
    observed; :func:`debias.counterfactual.apply_at` with a number), over the
    model's 2nd–98th percentile of observed differences. Points are the mean
    observed preference in quantile bins of the observed difference, with
    ±1.96·SE error bars.

    Parameters
    ----------
    fit : PreferenceGLM
        A fitted estimator whose formula uses ``mediator``.
    models : list of str, optional
        Models to draw. Default: all when there are at most 6, else 6 models
        spanning the range of the models' average difference (separated fits,
        whose curve is a step, are skipped).
    mediator : str, default "length"
    n_bins : int, default 10
        Quantile bins per model for the empirical means.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.model.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> fig = length_effect(fit, n_bins=5)
    >>> fig.axes[0].get_xlabel()
    'Length difference, model − baseline (characters)'
    """
    check_fit(fit)
    check_mediator(fit, mediator)
    chosen = fit_models(fit, models)
    if models is None:
        usable = [m for m in chosen if not is_nearly_separated(fit.results_[m])]
        chosen = pick_spread(fit, usable or chosen, mediator)
    fig, ax = new_axes(ax, figsize=(7.4, 4.6))
    meds = sorted(fit.spec_.mediators)
    uses_raw = bool(re.search(rf"\b{re.escape(mediator)}_(model|baseline)\b", fit.spec_.rhs))
    for i, m in enumerate(chosen):
        res = fit.results_[m]
        colour = OKABE_ITO[i % (len(OKABE_ITO) - 1)]  # skip yellow
        x = res.frame[mediator].to_numpy(float)
        lo, hi = np.nanquantile(x, [0.02, 0.98])
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        grid = np.linspace(lo, hi, 60)
        frames = []
        for d in grid:
            cf = apply_at(res.frame, meds, {mediator: float(d)})
            if uses_raw:  # keep per-output values physical (>= 0)
                base = cf[f"{mediator}_baseline"].to_numpy(float)
                new = np.maximum(base + d, 0.0)
                cf[f"{mediator}_model"] = new
                cf[mediator] = new - base
            frames.append(cf)
        # one prediction call for the whole grid (the design is rebuilt per call)
        pred = res.predict(pd.concat(frames))
        curve = pred.reshape(len(grid), len(res.frame)).mean(axis=1)
        ax.plot(grid, curve, color=colour, lw=2, label=short_name(m), zorder=3)
        b = binned_means(x, res.y, n_bins)
        ax.errorbar(
            b["x"],
            b["mean"],
            yerr=Z95 * b["se"],
            fmt="o",
            ms=4,
            color=colour,
            alpha=0.75,
            elinewidth=1,
            capsize=2,
            zorder=2,
        )
    ax.axhline(0.5, color=GREY, lw=0.8, ls=":", zorder=1)
    ax.axvline(0.0, color=GREY, lw=0.8, ls=":", zorder=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(mediator_label(mediator))
    ax.set_ylabel("P(model preferred)")
    ax.set_title(
        f"Judge's preference vs {mediator} difference\n"
        "lines: model prediction; points: binned observed mean ± 1.96 SE",
        fontsize=10,
    )
    handles, labels = ax.get_legend_handles_labels()
    if models is None and handles:  # the legend lists the curves top to bottom
        order = np.argsort([-np.mean(h.get_ydata()) for h in handles], kind="stable")
        handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    if handles:
        ax.legend(
            handles,
            labels,
            title="Model",
            fontsize=SMALL,
            title_fontsize=SMALL + 1,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            frameon=False,
        )
    return fig


def _slope_term(fit, term: str | None) -> str:
    cols = list(fit.columns_)
    if term is None:
        cand = [c for c in cols if c not in ("strength", "difficulty")]
        if not cand:
            raise ParameterError(f"The fit has no mediator term; its coefficients are {cols}.")
        return cand[0]
    if term not in cols:
        raise ParameterError(
            f"The 'term' parameter must be one of the coefficients {cols}. Got {term!r} instead."
        )
    return term


def coefficient_forest(fit, term: str | None = None, level: float = 0.95, std_errors=None, ax=None):
    """One coefficient by model, sorted, with cluster-robust confidence intervals.

    Parameters
    ----------
    fit : PreferenceGLM
    term : str, optional
        A coefficient name (default: the first mediator term, e.g.
        ``tanh(scaled(length))``).
    level : float, default 0.95
        Level of the Wald intervals (standard errors clustered by instruction).
    std_errors : mapping of str to float, optional
        Standard errors by model to use instead of :attr:`ModelResults.bse` (e.g.
        the audit's, which include the estimation of a fitted difficulty).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.model.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> len(coefficient_forest(fit).axes[0].get_yticklabels())
    3
    """
    check_fit(fit)
    term = _slope_term(fit, term)
    if not 0 < level < 1:
        raise ParameterError(f"The 'level' parameter must be in (0, 1). Got {level!r} instead.")
    models = fit_models(fit, None)
    rows = []
    for m in models:
        res = fit.results_[m]
        est = float(res.params[term])
        if std_errors is not None and m in std_errors:
            z = float(stats.norm.ppf(0.5 + level / 2))
            lo, hi = est - z * std_errors[m], est + z * std_errors[m]
        else:
            ci = res.conf_int(level).loc[term]
            lo, hi = ci["conf_low"], ci["conf_high"]
        unsupported = res.support_problem() is not None
        if unsupported:  # too few judgments or wins: no interval, drawn like a separated fit
            lo = hi = np.nan
        rows.append((m, est, lo, hi, is_nearly_separated(res) or unsupported))
    df = pd.DataFrame(rows, columns=["model", "est", "lo", "hi", "separated"])
    df = df.sort_values("est")
    n = len(df)
    fig, ax = new_axes(ax, figsize=(6.4, max(2.8, 0.24 * n + 1.4)))
    y = np.arange(n)
    # Off-scale estimates (e.g. a separated fit) would squash everyone else: clip the axis
    # to the others' intervals and mark them at the edge with their value.
    q1, q3 = np.nanquantile(df["est"], [0.25, 0.75]) if n else (0.0, 0.0)
    iqr = max(q3 - q1, 1e-9)
    off = (
        ((df["est"] > q3 + 4 * iqr) | (df["est"] < q1 - 4 * iqr)).to_numpy()
        if n >= 5
        else np.zeros(n, bool)
    )
    keep = df[~off]
    lo = min(0.0, float(np.nanmin(keep["lo"]))) if len(keep) else -1.0
    hi = max(0.0, float(np.nanmax(keep["hi"]))) if len(keep) else 1.0
    pad = 0.08 * (hi - lo or 1.0)
    xlim = (lo - pad, hi + pad)
    sig = ((df["lo"] > 0) | (df["hi"] < 0)).to_numpy()
    colours = np.where(sig, OKABE_ITO[0], GREY)
    ax.hlines(
        y[~off],
        np.clip(keep["lo"], *xlim),
        np.clip(keep["hi"], *xlim),
        color=colours[~off],
        lw=1.6,
    )
    ax.scatter(keep["est"], y[~off], color=colours[~off], s=22, zorder=3)
    for yi, est in zip(y[off], df["est"][off], strict=True):
        right = est > hi
        edge = xlim[1] if right else xlim[0]
        ax.scatter(
            [edge],
            [yi],
            marker=">" if right else "<",
            color=OKABE_ITO[3],
            s=30,
            zorder=4,
            clip_on=False,
        )
        ax.text(
            edge - 0.025 * (xlim[1] - xlim[0]) * (1 if right else -1),
            yi,
            f"{est:.1f} (off scale)",
            ha="right" if right else "left",
            va="center",
            fontsize=SMALL,
            color=OKABE_ITO[3],
        )
    ax.set_xlim(xlim)
    ax.axvline(0, color="black", lw=0.9)
    pooled = df[~df["separated"]]
    mean_note = ""
    if len(pooled):
        mean = float(pooled["est"].mean())
        left_out = int(df["separated"].sum())
        note = f", {left_out} separated fit(s) left out" if left_out else ""
        ax.axvline(mean, color=OKABE_ITO[3], lw=1, ls="--")
        # in the title, not a legend: with many models every corner holds data
        mean_note = f"\ndashed: mean over models = {mean:.2f}{note}"
    ax.set_yticks(y, [short_name(m, 36) for m in df["model"]], fontsize=tick_fontsize(n))
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"Coefficient of {term}\n(log-odds of preference per unit of the term)")
    ax.set_ylabel("Model")
    pct = f"{100 * level:g}%"
    ax.set_title(
        f"{term} by model\n{pct} CI, cluster-robust by instruction (blue: excludes 0){mean_note}",
        fontsize=10,
    )
    return fig
