"""Shared pieces of :mod:`debias.plots` and :mod:`debias.table_plots`.

The palette, font sizes, axes creation, binning, name shortening, label placement
without overlaps, and :func:`save`.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError

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


# ============================================================================ label placement
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


def save(obj, path, dpi: int = 130) -> None:
    """Save the figure of an Axes or Figure to ``path`` (tight bounding box) and close it."""
    fig = obj if isinstance(obj, mpl.figure.Figure) else obj.figure
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
