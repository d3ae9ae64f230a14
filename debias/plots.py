"""Diagnostic plots of a fitted preference GLM and of leaderboards.

Every function takes the data it needs plus ``ax=None`` (a new figure is created
when ``None``), returns the matplotlib :class:`~matplotlib.axes.Axes` (or the
:class:`~matplotlib.figure.Figure` for multi-panel plots), never calls
``plt.show()`` and works headless (``MPLBACKEND=Agg``). Colours come from the
Okabe–Ito palette and colour-blind-safe colormaps (viridis, RdBu).

Units: mediator differences are *model − baseline* in the mediator's own unit
(characters for ``length``, words for ``words``, counts for markdown elements);
probabilities are in [0, 1]; win rates in percent.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from debias.simulate import simulate
>>> from debias.glm import PreferenceGLM
>>> sim = simulate(n_models=3, n_instructions=120, seed=0)
>>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
>>> ax = calibration(fit)
>>> ax.get_xlabel()
'Predicted P(model preferred), bin mean'
"""

from __future__ import annotations

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from scipy import stats

from debias.counterfactual import apply_at
from debias.errors import InputError, ParameterError

__all__ = [
    "OKABE_ITO",
    "benchmark_correlation",
    "calibration",
    "coefficient_forest",
    "controls_label",
    "gameability",
    "length_effect",
    "rank_bump",
    "raw_vs_controlled",
    "residuals",
    "variants_table",
    "winrate_heatmap",
]

#: Okabe–Ito colour-blind-safe palette (yellow last: weak on white).
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
_GREY = "#7F7F7F"
_SMALL = 8  # smallest font size used (points)
_Z95 = 1.959963984540054
_UNITS = {"length": "characters", "words": "words"}
VARIANTS = ("concise", "standard", "verbose")


# ============================================================================ helpers
def _new_axes(ax, figsize=(6.4, 4.4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _unit(mediator: str) -> str:
    try:
        from debias.mediators import get_mediator

        return get_mediator(mediator).unit or _UNITS.get(mediator, "count")
    except Exception:  # a mediator unregistered since the fit
        return _UNITS.get(mediator, "count")


def _mediator_label(mediator: str) -> str:
    name = mediator.replace("_", " ").capitalize()
    return f"{name} difference, model − baseline ({_unit(mediator)})"


def _check_fit(fit) -> None:
    if not hasattr(fit, "results_"):
        raise ParameterError(
            "Plots of a fit need a fitted PreferenceGLM (call .fit(comparisons) first); got "
            f"{type(fit).__name__}."
        )
    if not fit.results_:
        raise InputError("The fit has no model besides the baseline: nothing to plot.")


def _fit_models(fit, models) -> list[str]:
    fitted = [m for m in fit.models_ if m in fit.results_]
    if models is None:
        return fitted
    if isinstance(models, str):
        models = [models]
    unknown = [m for m in models if m not in fit.results_]
    if unknown:
        raise ParameterError(
            f"Unknown or baseline model(s) {unknown}; fitted models besides the baseline: {fitted}."
        )
    return list(models)


def _check_mediator(fit, mediator: str) -> None:
    meds = sorted(fit.spec_.mediators)
    if mediator not in meds:
        raise ParameterError(
            f"The 'mediator' parameter must be one of the fit's mediators {meds}. Got {mediator!r} "
            "instead."
        )


def _binned(x: np.ndarray, y: np.ndarray, n_bins: int, edges: np.ndarray | None = None):
    """Bins of x (quantile bins unless ``edges``): mean of x, mean of y, SE of mean of y, count."""
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ParameterError(f"The 'n_bins' parameter must be an int >= 1. Got {n_bins!r} instead.")
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        return pd.DataFrame(columns=["x", "mean", "se", "n"])
    if edges is None:
        edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        idx = np.zeros(len(x), int)
    else:
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    df = pd.DataFrame({"bin": idx, "x": x, "y": y})
    g = df.groupby("bin")
    out = pd.DataFrame(
        {"x": g["x"].mean(), "mean": g["y"].mean(), "se": g["y"].sem(), "n": g["y"].size()}
    )
    out["se"] = out["se"].fillna(0.0)
    return out.reset_index(drop=True)


def _renderer(fig):
    try:
        return fig.canvas.get_renderer()
    except AttributeError:  # non-Agg canvases
        return fig._get_renderer()


def _overlaps(a, b, pad: float = 1.0) -> bool:
    return not (
        a.x1 + pad <= b.x0 or b.x1 + pad <= a.x0 or a.y1 + pad <= b.y0 or b.y1 + pad <= a.y0
    )


def _short(name: str, width: int = 28) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


#: |coefficient| above which a fit counts as (nearly) separated, as in the solver's warning.
SEPARATION_THRESHOLD = 15.0


def _separated(res) -> bool:
    """A model fit that did not converge or has a coefficient beyond the threshold."""
    return (not res.converged) or bool(np.any(np.abs(res.params.to_numpy()) > SEPARATION_THRESHOLD))


def _tick_fontsize(n: int) -> float:
    return 10 if n <= 12 else 9 if n <= 25 else _SMALL


def _pick_spread(fit, models: list[str], mediator: str, k: int = 6) -> list[str]:
    """``k`` models spanning the range of the models' mean mediator difference."""
    if len(models) <= k:
        return models
    means = pd.Series({m: float(np.nanmean(fit.results_[m].frame[mediator])) for m in models})
    means = means.sort_values()
    pos = np.unique(np.round(np.linspace(0, len(means) - 1, k)).astype(int))
    return list(means.index[pos])


# ============================================================================ fit plots
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
    matplotlib.axes.Axes

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> ax = length_effect(fit, n_bins=5)
    >>> ax.get_xlabel()
    'Length difference, model − baseline (characters)'
    """
    _check_fit(fit)
    _check_mediator(fit, mediator)
    chosen = _fit_models(fit, models)
    if models is None:
        usable = [m for m in chosen if not _separated(fit.results_[m])]
        chosen = _pick_spread(fit, usable or chosen, mediator)
    fig, ax = _new_axes(ax, figsize=(7.4, 4.6))
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
        ax.plot(grid, curve, color=colour, lw=2, label=_short(m), zorder=3)
        b = _binned(x, res.y, n_bins)
        ax.errorbar(
            b["x"],
            b["mean"],
            yerr=_Z95 * b["se"],
            fmt="o",
            ms=4,
            color=colour,
            alpha=0.75,
            elinewidth=1,
            capsize=2,
            zorder=2,
        )
    ax.axhline(0.5, color=_GREY, lw=0.8, ls=":", zorder=1)
    ax.axvline(0.0, color=_GREY, lw=0.8, ls=":", zorder=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(_mediator_label(mediator))
    ax.set_ylabel("P(model preferred)")
    ax.set_title(
        f"Judge's preference vs {mediator} difference\n"
        "lines: model prediction; points: binned observed mean ± 1.96 SE",
        fontsize=10,
    )
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles,
            labels,
            title="Model",
            fontsize=_SMALL,
            title_fontsize=_SMALL + 1,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            frameon=False,
        )
    return ax


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
    matplotlib.axes.Axes
        The main axes; a twin axes on the right shows the judgments per bin.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> calibration(fit, n_bins=5).get_ylabel()
    'Observed P(model preferred), bin mean'
    """
    _check_fit(fit)
    fig, ax = _new_axes(ax, figsize=(5.8, 4.8))
    models = _fit_models(fit, None)
    pred = np.concatenate([fit.results_[m].fitted() for m in models])
    obs = np.concatenate([fit.results_[m].y for m in models])
    b = _binned(pred, obs, n_bins, edges=np.linspace(0, 1, n_bins + 1))
    width = 0.8 / n_bins
    twin = ax.twinx()
    twin.bar(b["x"], b["n"], width=width, color=_GREY, alpha=0.25, zorder=0, label="judgments")
    twin.set_ylim(0, max(b["n"].max() * 4, 1) if len(b) else 1)
    twin.set_ylabel("Judgments per bin (bars, count)", color=_GREY)
    twin.tick_params(axis="y", colors=_GREY, labelsize=_SMALL)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot([0, 1], [0, 1], color=_GREY, ls="--", lw=1, label="perfect calibration")
    ax.errorbar(
        b["x"],
        b["mean"],
        yerr=_Z95 * b["se"],
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
    ax.legend(loc="upper left", fontsize=_SMALL, frameon=False)
    return ax


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
    matplotlib.axes.Axes

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> len(coefficient_forest(fit).get_yticklabels())
    3
    """
    _check_fit(fit)
    term = _slope_term(fit, term)
    if not 0 < level < 1:
        raise ParameterError(f"The 'level' parameter must be in (0, 1). Got {level!r} instead.")
    models = _fit_models(fit, None)
    rows = []
    for m in models:
        res = fit.results_[m]
        est = float(res.params[term])
        if std_errors is not None and m in std_errors:
            z = float(stats.norm.ppf(0.5 + level / 2))
            lo, hi = est - z * std_errors[m], est + z * std_errors[m]
        else:
            ci = res.conf_int(1 - level).loc[term]
            lo, hi = ci["lower"], ci["upper"]
        rows.append((m, est, lo, hi, _separated(res)))
    df = pd.DataFrame(rows, columns=["model", "est", "lo", "hi", "separated"])
    df = df.sort_values("est")
    n = len(df)
    fig, ax = _new_axes(ax, figsize=(6.4, max(2.8, 0.24 * n + 1.4)))
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
    colours = np.where(sig, OKABE_ITO[0], _GREY)
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
            fontsize=_SMALL,
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
    ax.set_yticks(y, [_short(m, 36) for m in df["model"]], fontsize=_tick_fontsize(n))
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"Coefficient of {term}\n(log-odds of preference per unit of the term)")
    ax.set_ylabel("Model")
    pct = f"{100 * level:g}%"
    ax.set_title(
        f"{term} by model\n{pct} CI, cluster-robust by instruction (blue: excludes 0){mean_note}",
        fontsize=10,
    )
    return ax


def residuals(fit, mediator: str | None = None, n_bins: int = 10, ax=None):
    """Binned mean residuals (observed − predicted) against each mediator difference.

    A flat line at zero means the formula captures how the judge reacts to the
    mediator; a trend means a misspecified shape (e.g. tanh too flat).

    Parameters
    ----------
    fit : PreferenceGLM
    mediator : str, optional
        One mediator (returns its Axes); ``None``: one panel per mediator of the
        fit (returns the Figure).
    n_bins : int, default 10
        Quantile bins of the difference, pooled over models.
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        With ``mediator=None``: as many Axes as mediators.

    Returns
    -------
    matplotlib.axes.Axes or matplotlib.figure.Figure

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.glm import PreferenceGLM
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> fig = residuals(fit)
    >>> [a.get_title() for a in fig.axes]
    ['Residuals vs length difference']
    """
    _check_fit(fit)
    models = _fit_models(fit, None)
    if mediator is not None:
        _check_mediator(fit, mediator)
        fig, ax = _new_axes(ax, figsize=(6.0, 4.2))
        _residual_panel(fit, models, mediator, n_bins, ax)
        return ax
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
    b = _binned(x, r, n_bins)
    ax.axhline(0, color="black", lw=0.9)
    ax.errorbar(
        b["x"], b["mean"], yerr=_Z95 * b["se"], fmt="o-", color=OKABE_ITO[0], ms=4, capsize=2
    )
    if mediator == "length" and len(b) and np.nanmax(np.abs(b["x"])) > 2000:
        ax.ticklabel_format(axis="x", style="plain")
    ax.set_xlabel(_mediator_label(mediator))
    ax.set_ylabel("Mean residual (observed − predicted P)")
    ax.set_title(f"Residuals vs {mediator} difference", fontsize=10)


# ============================================================================ table plots
def _check_table(table, need, what):
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} needs a pandas DataFrame, got {type(table).__name__}.")
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {missing}; columns present: {list(table.columns)}."
        )
    if table.empty:
        raise InputError(f"{what}: the table is empty.")


def _segment_hits(p0, p1, bb, pad: float = 1.0) -> bool:
    """Whether the segment p0-p1 passes through the box (sampled; boxes are text-sized)."""
    t = np.linspace(0.0, 1.0, 40)
    xs = p0[0] + t * (p1[0] - p0[0])
    ys = p0[1] + t * (p1[1] - p0[1])
    return bool(
        np.any((xs > bb[0] - pad) & (xs < bb[2] + pad) & (ys > bb[1] - pad) & (ys < bb[3] + pad))
    )


def _segments_cross(a, b) -> bool:
    """Whether two segments properly intersect."""

    def orient(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    (p1, p2), (p3, p4) = a, b
    return (
        orient(p1, p2, p3) * orient(p1, p2, p4) < 0 and orient(p3, p4, p1) * orient(p3, p4, p2) < 0
    )


def _place_labels(ax, xs, ys, labels, fontsize=_SMALL, avoid=None):
    """Annotate points so that no two labels overlap and leader lines cross no label.

    Greedy: each label (in the order given) tries offsets in 12 directions at
    growing distances (up to 100 points). A candidate must lie inside the axes, not
    overlap a placed label or cover a data point (a label next to the wrong point
    misleads), not be crossed by a placed leader line, and its own leader line
    (drawn when it is away from its point) must cross no placed label or leader
    line. The nearest such candidate wins; a label that fits nowhere is dropped.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = _renderer(fig)
    box = ax.get_window_extent(renderer)
    pts = ax.transData.transform(np.column_stack([xs, ys]) if avoid is None else avoid)
    px_per_pt = fig.dpi / 72.0
    angles = np.deg2rad(np.arange(0, 360, 30) + 15)
    radii = (6.0, 12.0, 20.0, 32.0, 48.0, 70.0, 100.0)
    boxes: list[tuple[float, float, float, float]] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    placed = []
    pad = 2.0
    marker = 5.0  # pixels around a data point kept free

    def overlaps(bb):
        return any(
            not (
                bb[2] + pad <= o[0]
                or o[2] + pad <= bb[0]
                or bb[3] + pad <= o[1]
                or o[3] + pad <= bb[1]
            )
            for o in boxes
        )

    for x, y, label in zip(xs, ys, labels, strict=True):
        probe = ax.text(0, 0, label, fontsize=fontsize, transform=None)
        ext = probe.get_window_extent(renderer)
        probe.remove()
        w, h = ext.width, ext.height
        px, py = ax.transData.transform((x, y))
        best = None
        for r in radii:
            far = r > 8
            for ang in angles:
                c, s_ = np.cos(ang), np.sin(ang)
                ha = "left" if c > 0.3 else "right" if c < -0.3 else "center"
                va = "bottom" if s_ > 0.3 else "top" if s_ < -0.3 else "center"
                ax0 = px + r * c * px_per_pt
                ay0 = py + r * s_ * px_per_pt
                x0 = ax0 if ha == "left" else ax0 - w if ha == "right" else ax0 - w / 2
                y0 = ay0 if va == "bottom" else ay0 - h if va == "top" else ay0 - h / 2
                bb = (x0, y0, x0 + w, y0 + h)
                if bb[0] < box.x0 or bb[2] > box.x1 or bb[1] < box.y0 or bb[3] > box.y1:
                    continue
                if overlaps(bb) or any(_segment_hits(*lead, bb) for lead in leaders):
                    continue
                seg = ((px, py), (ax0, ay0)) if far else None
                if seg is not None and (
                    any(_segment_hits(*seg, o) for o in boxes)
                    or any(_segments_cross(seg, lead) for lead in leaders)
                ):
                    continue
                covered = int(
                    np.sum(
                        (pts[:, 0] > bb[0] - marker)
                        & (pts[:, 0] < bb[2] + marker)
                        & (pts[:, 1] > bb[1] - marker)
                        & (pts[:, 1] < bb[3] + marker)
                    )
                )
                if covered:
                    continue
                cost = r
                if best is None or cost < best[0]:
                    best = (cost, r * c, r * s_, ha, va, bb, seg)
        if best is None:
            continue
        _, dx, dy, ha, va, bb, seg = best
        t = ax.annotate(
            label,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            arrowprops={
                "arrowstyle": "-",
                "color": "#444444",
                "lw": 0.7,
                "shrinkA": 0,
                "shrinkB": 3,
                # the line ends at the text's anchor corner, as assumed when placing it
                "relpos": (
                    {"left": 0.0, "right": 1.0, "center": 0.5}[ha],
                    {"bottom": 0.0, "top": 1.0, "center": 0.5}[va],
                ),
            }
            if seg is not None
            else None,
            zorder=5,
        )
        boxes.append(bb)
        if seg is not None:
            leaders.append(seg)
        placed.append(t)
    return placed


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
        A leaderboard (:func:`debias.leaderboard.leaderboard`): ``model, win_rate,
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
    >>> from debias.leaderboard import leaderboard
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
    >>> from debias.leaderboard import leaderboard
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


def save(obj, path, dpi: int = 130) -> None:
    """Save the figure of an Axes or Figure to ``path`` (tight bounding box) and close it."""
    fig = obj if isinstance(obj, mpl.figure.Figure) else obj.figure
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
