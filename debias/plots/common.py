"""What every plot shares: the palette, font sizes, axes creation, checks, binning, :func:`save`.

Examples
--------
>>> short_name("a-very-long-model-name-that-goes-on", 12)
'a-very-long…'
>>> binned_means([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0], n_bins=2)["n"].tolist()
[2, 2]
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError

__all__ = [
    "GREY",
    "OKABE_ITO",
    "SMALL",
    "Z95",
    "binned_means",
    "check_fit",
    "check_mediator",
    "fit_models",
    "mediator_label",
    "new_axes",
    "pick_spread",
    "save",
    "short_name",
    "signed",
    "tick_fontsize",
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
GREY = "#7F7F7F"
SMALL = 8  # smallest font size used (points)
Z95 = 1.959963984540054
_UNITS = {"length": "characters", "words": "words"}


def new_axes(ax, figsize=(6.4, 4.4)):
    """``(figure, ax)``: a new constrained-layout figure when ``ax`` is None."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _unit(mediator: str) -> str:
    try:
        from debias.mediators import get_mediator

        return get_mediator(mediator).unit or _UNITS.get(mediator, "count")
    except Exception:  # a mediator unregistered since the fit
        return _UNITS.get(mediator, "count")


def mediator_label(mediator: str) -> str:
    """Axis label of a mediator's difference, with its unit."""
    name = mediator.replace("_", " ").capitalize()
    return f"{name} difference, model − baseline ({_unit(mediator)})"


def check_fit(fit) -> None:
    """Refuse anything but a fitted PreferenceGLM with at least one model."""
    if not hasattr(fit, "results_"):
        raise ParameterError(
            "Plots of a fit need a fitted PreferenceGLM (call .fit(comparisons) first); got "
            f"{type(fit).__name__}."
        )
    if not fit.results_:
        raise InputError("The fit has no model besides the baseline: nothing to plot.")


def fit_models(fit, models) -> list[str]:
    """The fitted models to draw (all when ``models`` is None); unknown names are an error."""
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


def check_mediator(fit, mediator: str) -> None:
    """Refuse a mediator the fit does not use."""
    meds = sorted(fit.spec_.mediators)
    if mediator not in meds:
        raise ParameterError(
            f"The 'mediator' parameter must be one of the fit's mediators {meds}. Got {mediator!r} "
            "instead."
        )


def binned_means(x, y, n_bins: int, edges: np.ndarray | None = None) -> pd.DataFrame:
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


def short_name(name, width: int = 28) -> str:
    """``name`` cut to ``width`` characters with an ellipsis."""
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def signed(value: float, digits: int = 1) -> str:
    """A change with its sign and a true minus: ``+1.5``, ``−2.0``, ``0`` for no change.

    Examples
    --------
    >>> signed(1.54), signed(-2.0), signed(0, 0)
    ('+1.5', '−2.0', '0')
    """
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f}"
    return text.replace("-", "−")


def tick_fontsize(n: int) -> float:
    """Tick-label font size for ``n`` labels on one axis."""
    return 10 if n <= 12 else 9 if n <= 25 else SMALL


def pick_spread(fit, models: list[str], mediator: str, k: int = 6) -> list[str]:
    """``k`` models spanning the range of the models' mean mediator difference."""
    if len(models) <= k:
        return models
    means = pd.Series({m: float(np.nanmean(fit.results_[m].frame[mediator])) for m in models})
    means = means.sort_values()
    pos = np.unique(np.round(np.linspace(0, len(means) - 1, k)).astype(int))
    return list(means.index[pos])


def save(obj, path, dpi: int = 130) -> None:
    """Save the figure of an Axes or Figure to ``path`` (tight bounding box) and close it."""
    fig = obj if isinstance(obj, mpl.figure.Figure) else obj.figure
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
