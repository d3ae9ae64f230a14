"""Pairwise stateful transforms for formulas: ``scaled``, ``diff_over_sum``, ``log_ratio``.

Each follows patsy's stateful-transform protocol (``memorize_chunk``,
``memorize_finish``, ``transform``); :data:`TRANSFORMS` maps the formula names to the
classes. A scale that a few rows dominate is reported with a :class:`DataWarning`
(:func:`dominating_rows`).

Examples
--------
>>> sorted(TRANSFORMS)
['diff_over_sum', 'log_ratio', 'scaled']
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError

__all__ = [
    "DOMINANCE_RATIO",
    "DOMINANCE_SHARE",
    "TRANSFORMS",
    "DiffOverSum",
    "LogRatio",
    "Scaled",
    "dominating_rows",
]


def _as_values(x: object, what: str) -> tuple[np.ndarray, pd.Index | None]:
    """Float values of ``x`` and its group labels (None: one global group).

    A Series' index holds the groups (models) unless it is a RangeIndex or numeric,
    which carry no group information.
    """
    groups = None
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise InputError(f"{what}: expected one column of numbers, got {x.shape[1]}.")
        x = x.iloc[:, 0]
    if isinstance(x, pd.Series):
        index = x.index
        if not isinstance(index, pd.RangeIndex) and not (
            not isinstance(index, pd.MultiIndex) and pd.api.types.is_numeric_dtype(index.dtype)
        ):
            groups = index
    try:
        if isinstance(x, pd.Series):
            values = x.to_numpy(dtype=float, na_value=np.nan)
        else:
            values = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: expected numbers, got values that are not ({exc}).") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise InputError(f"{what}: expected a 1-D array of numbers, got shape {values.shape}.")
    return values, groups


def _wrap(result: np.ndarray, like: object, name: object = None) -> pd.Series | np.ndarray:
    if isinstance(like, pd.Series):
        return pd.Series(result, index=like.index, name=name)
    return result


def _pair(a: object, b: object, what: str) -> tuple[np.ndarray, np.ndarray, pd.Index | None]:
    va, ga = _as_values(a, what)
    vb, gb = _as_values(b, what)
    if va.shape != vb.shape:
        raise InputError(
            f"{what}: the model and baseline values differ in length ({len(va)} vs {len(vb)})."
        )
    if ga is not None and gb is not None and not ga.equals(gb):
        raise InputError(f"{what}: the model and baseline values are not aligned (indexes differ).")
    return va, vb, ga if ga is not None else gb


DOMINANCE_SHARE = 0.01
"""The top share of rows (by squared deviation) whose removal is checked."""

DOMINANCE_RATIO = 2.0
"""Warn when the SD with those rows is more than this many times the SD without them."""


def dominating_rows(values: np.ndarray) -> tuple[int, float, float] | None:
    """Whether a few rows set a sample SD: ``(rows, their share of the variance, SD ratio)``.

    The rows farthest from the mean, up to the top :data:`DOMINANCE_SHARE` of them (at
    least one), are dropped; when the SD of all rows is more than :data:`DOMINANCE_RATIO`
    times the SD without them, those rows dominate the scale (the fewest such rows are
    reported; None otherwise, and below 10 rows).

    Examples
    --------
    >>> x = np.r_[np.linspace(-1.0, 1.0, 99), 1000.0]
    >>> rows, share, ratio = dominating_rows(x)
    >>> rows, round(share, 3), ratio > 2
    (1, 0.99, True)
    >>> dominating_rows(np.linspace(-1.0, 1.0, 100)) is None
    True
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n < 10:
        return None
    top = max(1, math.ceil(DOMINANCE_SHARE * n))
    dev2 = (v - v.mean()) ** 2
    order = np.argsort(dev2)[::-1]
    sd_all = np.std(v, ddof=1)
    if not sd_all > 0:
        return None
    for rows in range(1, top + 1):  # the fewest rows that do it
        sd_rest = np.std(v[order[rows:]], ddof=1)
        if sd_all > DOMINANCE_RATIO * sd_rest:
            share = float(dev2[order[:rows]].sum() / dev2.sum())
            return rows, share, float(sd_all / sd_rest) if sd_rest > 0 else math.inf
    return None


def _warn_if_dominated(values: np.ndarray, label: object, transform: str) -> None:
    found = dominating_rows(values)
    if found is None:
        return
    rows, share, ratio = found
    who = "all rows" if label is None else f"model {label!r}"
    warnings.warn(
        f"{transform}(): for {who}, {rows} of {len(values)} rows carry {share:.0%} of the "
        f"variance, so they set the scale of every other row (the SD is {ratio:.1f}x the SD "
        "without them): the model's controlled score rests on those few rows. Check them "
        "(e.g. an extremely long answer) or drop them.",
        DataWarning,
        stacklevel=4,
    )


class _GroupScale:
    """Per-group sample SD (ddof=1), accumulated over chunks; SD 0 or undefined -> 1."""

    _label = "transform"

    def __init__(self) -> None:
        self._grouped: bool | None = None
        self._stats: dict = {}  # group -> (n, mean, M2)
        self._values: dict = {}  # group -> list of value chunks (for the dominance check)

    def _memorize(self, values: np.ndarray, groups: pd.Index | None) -> None:
        grouped = groups is not None
        if self._grouped is None:
            self._grouped = grouped
        elif self._grouped != grouped:
            raise InputError(
                f"{self._label}: some chunks carry group labels (an index of model names) and "
                "others do not; pass every chunk the same way."
            )
        ok = ~np.isnan(values)
        if grouped:
            codes, labels = pd.factorize(groups[ok], use_na_sentinel=False)
        else:
            codes, labels = np.zeros(int(ok.sum()), dtype=np.intp), [None]
        v = values[ok]
        k = len(labels)
        bounds = np.cumsum(np.bincount(codes, minlength=k))[:-1]
        chunks = np.split(v[np.argsort(codes, kind="stable")], bounds)
        for label, chunk in zip(labels, chunks, strict=True):
            self._values.setdefault(label, []).append(chunk)
        n = np.bincount(codes, minlength=k).astype(float)
        mean = np.bincount(codes, weights=v, minlength=k) / np.maximum(n, 1)
        m2 = np.bincount(codes, weights=(v - mean[codes]) ** 2, minlength=k)
        for label, nb, mb, sb in zip(labels, n, mean, m2, strict=True):
            na, ma, sa = self._stats.get(label, (0.0, 0.0, 0.0))
            tot = na + nb
            delta = mb - ma
            self._stats[label] = (
                tot,
                ma + delta * nb / tot if tot else 0.0,
                sa + sb + delta**2 * na * nb / tot if tot else 0.0,
            )
        # groups whose values are all NaN still count as seen
        if grouped:
            for label in pd.unique(groups[~ok]):
                self._stats.setdefault(label, (0.0, 0.0, 0.0))

    def _finish(self) -> None:
        if self._grouped is None:
            raise InputError(f"{self._label}: nothing was memorized before memorize_finish().")
        labels = list(self._stats)
        sd = np.array(
            [math.sqrt(s / (n - 1)) if n > 1 else math.nan for n, _, s in self._stats.values()]
        )
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        for label in labels:
            chunks = self._values.get(label, [])
            values = np.concatenate(chunks) if chunks else np.zeros(0)
            _warn_if_dominated(values, label, self._label)
        self._values = {}  # not kept: the scale is all transform() needs
        if self._grouped:
            self.scale_ = pd.Series(sd, index=pd.Index(labels), name="scale")
        else:
            self.scale_ = float(sd[0])
        self.grouped_ = self._grouped

    def _scale_for(self, groups: pd.Index | None) -> np.ndarray | float:
        if not hasattr(self, "scale_"):
            raise InputError(f"{self._label}: transform() called before memorize_finish().")
        if not self.grouped_:
            return self.scale_
        if groups is None:
            raise InputError(
                f"{self._label}: the scale was memorized per group (the index labels, i.e. "
                "models) but the data to transform has no group labels (a plain array or a "
                "RangeIndex). Index it by model."
            )
        pos = self.scale_.index.get_indexer(groups)
        if (pos < 0).any():
            unseen = list(dict.fromkeys(groups[pos < 0]))
            shown = ", ".join(repr(g) for g in unseen[:5])
            more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
            raise InputError(
                f"{self._label}: group(s) {shown}{more} were not seen when the scale was "
                f"memorized (known groups: {len(self.scale_)}); a scale cannot be made up for "
                "a new model. Refit including it."
            )
        return self.scale_.to_numpy()[pos]


class Scaled(_GroupScale):
    """Divide a pairwise difference by its per-group sample SD, without centring.

    A patsy stateful transform (``formula.py`` wraps it with ``patsy.stateful_transform``
    as ``scaled``). Groups are the index labels of the Series it receives (the model of
    each row); a plain array or a RangeIndex / numeric index is one global group. The SD
    is the sample SD (ddof=1) within the group; when it is 0 or undefined (all
    differences equal, or one row) the scale is 1. 0 stays 0.

    With ``x`` the character-length difference (model − baseline) this is the
    reference's ``std_delta_len`` with the opposite sign (the reference uses
    baseline − model; ``tanh`` is odd, so only the coefficient's sign flips).

    Attributes
    ----------
    scale_ : float or pandas.Series
        The SD used per group (a Series indexed by group), or the global one.
    grouped_ : bool
        Whether the statistics are per group.

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.Series([10.0, -10.0, 0.0, 4.0, 4.0], index=["a", "a", "a", "b", "b"])
    >>> t = Scaled()
    >>> t.memorize_chunk(x)
    >>> t.memorize_finish()
    >>> t.scale_.to_dict()
    {'a': 10.0, 'b': 1.0}
    >>> t.transform(x).tolist()
    [1.0, -1.0, 0.0, 4.0, 4.0]
    """

    _label = "scaled"

    def memorize_chunk(self, x: object) -> None:
        """Accumulate per-group moments of one chunk of ``x``."""
        self._memorize(*_as_values(x, self._label))

    def memorize_finish(self) -> None:
        """Fix the per-group scales."""
        self._finish()

    def transform(self, x: object) -> pd.Series | np.ndarray:
        """``x`` divided by its group's scale (a Series with ``x``'s index for a Series)."""
        values, groups = _as_values(x, self._label)
        return _wrap(values / self._scale_for(groups), x, getattr(x, "name", None))


class DiffOverSum(_GroupScale):
    """Arena's pairwise transform: ``(a − b) / (a + b + 1)``, divided by its per-group SD.

    Called as ``diff_over_sum(a, b)`` with the per-output values ``a`` (model) and
    ``b`` (baseline), both non-negative (counts, lengths). The ratio lies in (−1, 1),
    is 0 when a = b and is nearly invariant to the unit; it is then scaled by its sample
    SD (ddof=1) within each group (index label), not centred, exactly like
    :class:`Scaled`.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.Series([3.0, 0.0, 5.0], index=["m", "m", "m"])
    >>> b = pd.Series([1.0, 0.0, 5.0], index=["m", "m", "m"])
    >>> t = DiffOverSum()
    >>> t.memorize_chunk(a, b)
    >>> t.memorize_finish()
    >>> t.transform(a, b).round(4).tolist()
    [1.7321, 0.0, 0.0]
    """

    _label = "diff_over_sum"

    def _ratio(self, a: object, b: object) -> tuple[np.ndarray, pd.Index | None]:
        va, vb, groups = _pair(a, b, self._label)
        if (va < 0).any() or (vb < 0).any():
            raise InputError(
                f"{self._label}: expects non-negative per-output values (counts or lengths); "
                "got negative ones. Pass the model's and the baseline's values, not their "
                "difference."
            )
        return (va - vb) / (va + vb + 1.0), groups

    def memorize_chunk(self, a: object, b: object) -> None:
        """Accumulate per-group moments of the ratio for one chunk."""
        self._memorize(*self._ratio(a, b))

    def memorize_finish(self) -> None:
        """Fix the per-group scales."""
        self._finish()

    def transform(self, a: object, b: object) -> pd.Series | np.ndarray:
        """The scaled ratio (a Series with ``a``'s index when given Series)."""
        ratio, groups = self._ratio(a, b)
        like = a if isinstance(a, pd.Series) else b
        return _wrap(ratio / self._scale_for(groups), like)


class LogRatio:
    """``log((a + 1) / (b + 1))`` of per-output values ``a`` (model) and ``b`` (baseline).

    Stateless, but follows the stateful-transform protocol so that it is used like the
    others (``log_ratio(length_model, length_baseline)`` in a formula). 0 when a = b;
    values must be greater than −1.

    Examples
    --------
    >>> t = LogRatio()
    >>> t.memorize_chunk([3.0], [1.0]); t.memorize_finish()
    >>> t.transform([3.0, 0.0], [1.0, 0.0]).round(4).tolist()
    [0.6931, 0.0]
    """

    _label = "log_ratio"

    def _values(self, a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
        va, vb, _ = _pair(a, b, self._label)
        if (va <= -1).any() or (vb <= -1).any():
            raise InputError(f"{self._label}: values must be greater than -1.")
        return va, vb

    def memorize_chunk(self, a: object, b: object) -> None:
        """Check the values (nothing to remember)."""
        self._values(a, b)

    def memorize_finish(self) -> None:
        """Nothing to do."""

    def transform(self, a: object, b: object) -> pd.Series | np.ndarray:
        """The log-ratio (a Series with ``a``'s index when given Series)."""
        va, vb = self._values(a, b)
        like = a if isinstance(a, pd.Series) else b
        return _wrap(np.log1p(va) - np.log1p(vb), like)


TRANSFORMS: dict[str, type] = {
    "scaled": Scaled,
    "diff_over_sum": DiffOverSum,
    "log_ratio": LogRatio,
}
"""Formula names of the pairwise stateful transforms (wrap with ``patsy.stateful_transform``)."""
