"""Diagnostics of a fitted judge: calibration, and residuals against each mediator.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from debias.simulate import simulate
>>> from debias.model.glm import PreferenceGLM
>>> sim = simulate(n_models=3, n_instructions=120, seed=0)
>>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
>>> calibration(fit).axes[0].get_xlabel()
'Predicted P(model preferred), bin mean'
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from debias.errors import ParameterError
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
)

__all__ = ["calibration", "residuals"]


def calibration(fit, n_bins: int = 10, ax=None):
    """Predicted against observed preference, in quantile bins pooled over models.

    Parameters
    ----------
    fit : PreferenceGLM
    n_bins : int, default 10
        Equal-width bins of the predicted probability on [0, 1] (empty bins are
        not drawn).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        The main axes; a twin axes on the right shows the judgments per bin.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.model.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> calibration(fit, n_bins=5).axes[0].get_ylabel()
    'Observed P(model preferred), bin mean'
    """
    check_fit(fit)
    fig, ax = new_axes(ax, figsize=(5.8, 4.8))
    models = fit_models(fit, None)
    pred = np.concatenate([fit.results_[m].fitted() for m in models])
    obs = np.concatenate([fit.results_[m].y for m in models])
    b = binned_means(pred, obs, n_bins, edges=np.linspace(0, 1, n_bins + 1))
    width = 0.8 / n_bins
    twin = ax.twinx()
    twin.bar(b["x"], b["n"], width=width, color=GREY, alpha=0.25, zorder=0, label="judgments")
    twin.set_ylim(0, max(b["n"].max() * 4, 1) if len(b) else 1)
    twin.set_ylabel("Judgments per bin (bars, count)", color=GREY)
    twin.tick_params(axis="y", colors=GREY, labelsize=SMALL)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1, label="perfect calibration")
    ax.errorbar(
        b["x"],
        b["mean"],
        yerr=Z95 * b["se"],
        fmt="o",
        color=OKABE_ITO[0],
        ms=5,
        capsize=2,
        label="binned mean ± 1.96 SE",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Predicted P(model preferred), bin mean")
    ax.set_ylabel("Observed P(model preferred), bin mean")
    ax.set_title(f"Calibration ({len(models)} models, {len(pred):,} judgments pooled)", fontsize=10)
    ax.legend(loc="upper left", fontsize=SMALL, frameon=False)
    return fig


def residuals(fit, mediator: str | None = None, n_bins: int = 10, ax=None):
    """Binned mean residuals (observed − predicted) against each mediator difference.

    A flat line at zero means the formula captures how the judge reacts to the
    mediator; a trend means a misspecified shape (e.g. tanh too flat).

    Parameters
    ----------
    fit : PreferenceGLM
    mediator : str, optional
        One mediator; ``None``: one panel per mediator of the fit.
    n_bins : int, default 10
        Quantile bins of the difference, pooled over models.
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        With ``mediator=None``: as many Axes as mediators.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.model.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> fig = residuals(fit)
    >>> [a.get_title() for a in fig.axes]
    ['Residuals vs length difference']
    """
    check_fit(fit)
    models = fit_models(fit, None)
    if mediator is not None:
        check_mediator(fit, mediator)
        fig, ax = new_axes(ax, figsize=(6.0, 4.2))
        _residual_panel(fit, models, mediator, n_bins, ax)
        return fig
    meds = sorted(fit.spec_.mediators, key=lambda m: (m != "length", m))
    if not meds:
        raise ParameterError("The fit has no mediator: no residual plot to draw.")
    if ax is None:
        fig, axes = plt.subplots(
            1, len(meds), figsize=(5.2 * len(meds), 4.2), layout="constrained", squeeze=False
        )
        axes = list(axes[0])
    else:
        axes = list(np.atleast_1d(ax))
        if len(axes) != len(meds):
            raise ParameterError(
                f"residuals(mediator=None) draws {len(meds)} panels ({meds}); got {len(axes)} Axes."
            )
        fig = axes[0].figure
    for a, m in zip(axes, meds, strict=True):
        _residual_panel(fit, models, m, n_bins, a)
    fig.suptitle(
        "Mean residual (observed − predicted) in quantile bins, pooled over models, ± 1.96 SE",
        fontsize=10,
    )
    return fig


def _residual_panel(fit, models, mediator, n_bins, ax):
    x = np.concatenate([fit.results_[m].frame[mediator].to_numpy(float) for m in models])
    r = np.concatenate([fit.results_[m].y - fit.results_[m].fitted() for m in models])
    b = binned_means(x, r, n_bins)
    ax.axhline(0, color="black", lw=0.9)
    ax.errorbar(
        b["x"], b["mean"], yerr=Z95 * b["se"], fmt="o-", color=OKABE_ITO[0], ms=4, capsize=2
    )
    if mediator == "length" and len(b) and np.nanmax(np.abs(b["x"])) > 2000:
        ax.ticklabel_format(axis="x", style="plain")
    ax.set_xlabel(mediator_label(mediator))
    ax.set_ylabel("Mean residual (observed − predicted P)")
    ax.set_title(f"Residuals vs {mediator} difference", fontsize=10)
