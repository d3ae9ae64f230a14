"""What every preset shares: the battles as arrays, the style covariates, the result."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError, check_param

__all__ = [
    "ARENA_HARD_BASELINE",
    "ELO_SCALE",
    "FASTCHAT_ANCHOR",
    "BattleRows",
    "PresetResult",
    "check_boot",
    "check_level",
    "check_ties_as_rows",
    "coef_frame",
    "default_anchor",
    "expand_weights",
    "feature_names",
    "percentiles",
    "prepare",
    "result_table",
    "style_matrix",
    "winrate_vs",
]

ELO_SCALE = 400.0 / math.log(10.0)  # rating points per logit
ARENA_HARD_BASELINE = "gpt-4-0314"
FASTCHAT_ANCHOR = ("mixtral-8x7b-instruct-v0.1", 1114.0)


@dataclass(frozen=True)
class PresetResult:
    """One tool's leaderboard on the given battles.

    Attributes
    ----------
    preset : str
        Name of the preset (``"arena_hard"``, ``"arena_rank"``, ``"fastchat_elo"``).
    table : pandas.DataFrame
        One row per model: ``model, n, strength`` (logits, as the tool identifies them),
        ``rating, rating_ci_low, rating_ci_high`` (Elo scale), ``score, score_ci_low, score_ci_high``
        (percent win rate against ``anchor``), ``note`` (why a value is missing).
    coefficients : pandas.DataFrame
        One row per style feature: ``feature, estimate, conf_low, conf_high, note``
        (logits per unit of the tool's scaled covariate).
    anchor : str or None
        The model the scores are against.
    level : float
        Nominal coverage of the intervals.
    description : str
        How the numbers were computed, in one paragraph.
    covariance : numpy.ndarray or None
        The tool's covariance of (strengths, coefficients) when it has one (arena_rank).
    """

    preset: str
    table: pd.DataFrame
    coefficients: pd.DataFrame
    anchor: str | None
    level: float
    description: str
    covariance: np.ndarray | None = field(default=None, repr=False)


# ------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class BattleRows:
    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    w: np.ndarray
    frame: pd.DataFrame  # the rows kept (verdict present), index reset


def prepare(battles, features: Sequence[str], who: str) -> BattleRows:
    if not isinstance(battles, pd.DataFrame):
        raise ParameterError(
            f"{who}: battles must be a pandas DataFrame (Judgments.battles() or "
            f"simulate_arena().battles). Got {type(battles).__name__}."
        )
    need = ["model_a", "model_b", "outcome"]
    for f in features:
        need += [f"{f}_a", f"{f}_b"]
    missing = [c for c in need if c not in battles.columns]
    if missing:
        hint = (
            " Add per-answer features with debias.battles.style.add_answer_features(battles, "
            "judgments, features=...)."
            if any(c.endswith(("_a", "_b")) and c not in ("model_a", "model_b") for c in missing)
            else ""
        )
        raise InputError(f"{who}: the battles have no column(s) {missing}.{hint}")
    outcome = pd.to_numeric(battles["outcome"], errors="coerce").to_numpy(dtype=float)
    keep = ~np.isnan(outcome)
    if "weight" in battles.columns:
        weight = pd.to_numeric(battles["weight"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(weight) | (weight < 0)
        if bad[keep].any():
            rows = np.flatnonzero(bad & keep)[:5].tolist()
            raise InputError(f"{who}: weight must be finite and >= 0; row(s) {rows} are not.")
        keep &= weight > 0
    else:
        weight = np.ones(len(battles))
    if (~keep).any():
        warnings.warn(
            f"{who}: {int((~keep).sum())} battle(s) without a verdict (or weight 0) dropped.",
            DataWarning,
            stacklevel=3,
        )
    frame = battles.loc[keep].reset_index(drop=True)
    if len(frame) == 0:
        raise InputError(f"{who}: no battle has a verdict.")
    out = outcome[keep]
    if ((out < 0) | (out > 1)).any():
        raise InputError(f"{who}: outcome must be in [0, 1] (P(A wins)); some rows are not.")
    name_a = frame["model_a"].astype(str).to_numpy()
    name_b = frame["model_b"].astype(str).to_numpy()
    if (name_a == name_b).any():
        rows = np.flatnonzero(name_a == name_b)[:5].tolist()
        raise InputError(f"{who}: row(s) {rows} put a model against itself; drop them.")
    models = tuple(sorted(set(name_a) | set(name_b)))
    index = pd.Index(models)
    a = index.get_indexer(name_a).astype(np.int64)
    b = index.get_indexer(name_b).astype(np.int64)
    return BattleRows(models, a, b, out, weight[keep], frame)


def expand_weights(d: BattleRows, who: str) -> BattleRows:
    """Integer weights -> repeated rows (how these tools see a weighted battle)."""
    w = d.w
    if np.all(w == 1):
        return d
    if not np.allclose(w, np.round(w)):
        raise ParameterError(
            f"{who}: the tool counts battles as rows, so weights must be whole numbers "
            "(a strong verdict = 3 rows); these battles have fractional weights. Use "
            "battle_leaderboard() for weighted battles."
        )
    rep = np.round(w).astype(np.int64)
    rows = np.repeat(np.arange(len(w)), rep)
    frame = d.frame.iloc[rows].reset_index(drop=True)
    return BattleRows(d.models, d.a[rows], d.b[rows], d.y[rows], np.ones(len(rows)), frame)


def check_ties_as_rows(y: np.ndarray, who: str) -> None:
    if not np.isin(y, (0.0, 0.5, 1.0)).all():
        raise ParameterError(
            f"{who}: the tool reads winners (model_a, model_b, tie): outcomes must be 0, "
            "0.5 or 1; these battles have soft outcomes. Use battle_leaderboard()."
        )


def feature_names(names) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    check_param(
        "features", names, "a sequence of feature names", all(isinstance(f, str) for f in names)
    )
    return names


def style_matrix(frame: pd.DataFrame, features, *, plus_one: bool, who: str) -> np.ndarray:
    """(a − b) / (a + b [+ 1]) per feature (a zero denominator counts as 1), z-scored (ddof 0)."""
    cols = []
    for f in features:
        fa = pd.to_numeric(frame[f"{f}_a"], errors="coerce").to_numpy(dtype=float)
        fb = pd.to_numeric(frame[f"{f}_b"], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(fa).all() and np.isfinite(fb).all()):
            raise InputError(f"{who}: feature {f!r} has missing or non-numeric values.")
        total = fa + fb + (1.0 if plus_one else 0.0)
        total = np.where(total == 0, 1.0, total)
        cols.append((fa - fb) / total)
    x = np.column_stack(cols) if cols else np.zeros((len(frame), 0))
    if x.shape[1]:
        sd = x.std(axis=0)
        flat = sd == 0
        if flat.any():
            raise InputError(
                f"{who}: feature(s) {[f for f, z in zip(features, flat, strict=True) if z]} "
                "do not vary over the battles; drop them from features=."
            )
        x = (x - x.mean(axis=0)) / sd
    return x


def default_anchor(d: BattleRows, anchor: str | None, who: str) -> str | None:
    if anchor is not None:
        if anchor not in d.models:
            raise ParameterError(
                f"{who}: anchor= {anchor!r} is not among the models {list(d.models)[:10]}."
            )
        return anchor
    counts = np.bincount(d.a, minlength=len(d.models)) + np.bincount(d.b, minlength=len(d.models))
    every = np.flatnonzero(counts == len(d.a))
    return d.models[int(every[0])] if len(every) == 1 else None


# ------------------------------------------------------------------------------- output
def result_table(
    d, theta, rating, rating_ci_low, rating_ci_high, anchor, score_fn, note=""
) -> pd.DataFrame:
    m = len(d.models)
    n = np.bincount(d.a, minlength=m) + np.bincount(d.b, minlength=m)
    table = pd.DataFrame(
        {
            "model": list(d.models),
            "n": n,
            "strength": theta,
            "rating": rating,
            "rating_ci_low": rating_ci_low,
            "rating_ci_high": rating_ci_high,
        }
    )
    if anchor is None:
        table["score"] = table["score_ci_low"] = table["score_ci_high"] = np.nan
        table["note"] = "no anchor: pass anchor= for scores" + (f"; {note}" if note else "")
    else:
        s, lo, hi = score_fn()
        table["score"], table["score_ci_low"], table["score_ci_high"] = s, lo, hi
        table["note"] = note
    return table


def winrate_vs(rating: np.ndarray, anchor_rating: float) -> np.ndarray:
    """Arena-Hard's predict_win_rate: 100 / (1 + 10^((r_anchor − r) / 400))."""
    return 100.0 / (1.0 + 10.0 ** ((anchor_rating - rating) / 400.0))


def coef_frame(features, estimate, low=None, high=None, note="") -> pd.DataFrame:
    k = len(features)
    low = np.full(k, np.nan) if low is None else low
    high = np.full(k, np.nan) if high is None else high
    return pd.DataFrame(
        {
            "feature": list(features),
            "estimate": estimate,
            "conf_low": low,
            "conf_high": high,
            "note": note,
        }  # fmt: skip
    )


def check_level(level) -> None:
    check_param("level", level, "a float in (0, 1)", isinstance(level, float) and 0 < level < 1)


def check_boot(n_boot) -> None:
    ok = isinstance(n_boot, int) and not isinstance(n_boot, bool) and 0 <= n_boot <= 100_000
    check_param("n_boot", n_boot, "an int in [0, 100000]", ok)


def percentiles(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    if len(values) == 0:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    tail = 100 * (1 - level) / 2
    return np.nanpercentile(values, tail, axis=0), np.nanpercentile(values, 100 - tail, axis=0)
