"""arena-rank 0.1.1's ``ContextualBradleyTerry``: :func:`arena_rank`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from debias.battles.presets.common import (
    ELO_SCALE,
    BattleRows,
    PresetResult,
    check_level,
    coef_frame,
    default_anchor,
    expand_weights,
    feature_names,
    prepare,
    result_table,
    style_matrix,
)
from debias.battles.presets.solver import assemble, fit_bt
from debias.errors import check_param

__all__ = ["arena_rank", "arena_rank_sandwich", "arena_rank_weights"]

PENALISED_NOTE = (
    "the package's numbers: L2 on a mean loss shrinks the estimate towards 0, and its "
    "sandwich around a penalised estimate is not an interval for the unpenalised effect "
    "(battle_leaderboard reports that one)"
)


def arena_rank_weights(d: BattleRows, min_pair_count: int = 50) -> np.ndarray:
    """Inverse pair-frequency weights ``1 / max(n_pair, floor)``, divided by their mean."""
    m = len(d.models)
    lo, hi = np.minimum(d.a, d.b), np.maximum(d.a, d.b)
    pair = lo * m + hi
    counts = np.bincount(pair, minlength=m * m)[pair].astype(float)
    w = 1.0 / np.maximum(counts, min_pair_count)
    return w / w.mean()


def arena_rank(
    battles: pd.DataFrame,
    *,
    features: Sequence[str] | None = ("tokens", "headers", "lists", "bold"),
    reg: float = 1.0,
    reweighted: bool = True,
    min_pair_count: int = 50,
    hessian_reg: float = 1e-5,
    anchor: str | None = None,
    level: float = 0.95,
) -> PresetResult:
    """arena-rank 0.1.1's ``ContextualBradleyTerry`` (LMArena's style-controlled leaderboard).

    Parameters
    ----------
    battles : pandas.DataFrame
        Battle rows with ``model_a, model_b, outcome`` and ``<f>_a, <f>_b`` per feature;
        whole-number weights become repeated rows (the package has no row weights).
    features : sequence of str
        Style features (default Arena's four).
    reg : float
        L2 penalty on the style coefficients, on the mean loss (the package: 1.0).
    reweighted, min_pair_count : bool, int
        Inverse pair-frequency weights with this floor (the package: True, 50).
    hessian_reg : float
        Ridge the package adds to the sandwich's Hessian (1e-5).
    anchor : str, optional
        Model the scores are against (the package reports ratings only; scores and their
        intervals here use its covariance of the difference).
    level : float
        Interval level (the package: ``1 − significance_level`` = 0.95).

    Returns
    -------
    PresetResult
        ``covariance`` holds the package's sandwich covariance of (strengths, coefficients).
    """
    who = "arena_rank"
    features = feature_names(features)
    check_level(level)
    for name, value, low in (("reg", reg, 0.0), ("hessian_reg", hessian_reg, 0.0)):
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= low
        )
        check_param(name, value, "a finite float >= 0", ok)
    check_param("min_pair_count", min_pair_count, "an int >= 1",
                isinstance(min_pair_count, int) and min_pair_count >= 1)  # fmt: skip
    d = expand_weights(prepare(battles, features, who), who)
    anchor = default_anchor(d, anchor, who)
    x = style_matrix(d.frame, features, plus_one=False, who=who)
    w = arena_rank_weights(d, min_pair_count) if reweighted else np.ones(len(d.a))
    dw = BattleRows(d.models, d.a, d.b, d.y, w, d.frame)
    n, m = len(d.a), len(d.models)
    theta, beta, _ = fit_bt(dw, x, l2=reg * n)
    cov = arena_rank_sandwich(dw, x, theta, beta, reg=reg, hessian_reg=hessian_reg)
    z = norm.ppf(0.5 + level / 2)
    se = np.sqrt(np.diag(cov))
    rating = 1000.0 + ELO_SCALE * theta
    low = 1000.0 + ELO_SCALE * (theta - z * se[:m])
    high = 1000.0 + ELO_SCALE * (theta + z * se[:m])

    def scores():
        j = d.models.index(anchor)
        diff = theta - theta[j]
        var = se[:m] ** 2 + cov[j, j] - 2 * cov[:m, j]
        sd = np.sqrt(np.maximum(var, 0.0))
        return 100 * expit(diff), 100 * expit(diff - z * sd), 100 * expit(diff + z * sd)

    table = result_table(dw, theta, rating, low, high, anchor, scores)
    if anchor is not None:
        table.loc[table["model"] == anchor, ["score_ci_low", "score_ci_high"]] = np.nan
        table.loc[table["model"] == anchor, "note"] = "the anchor"
    note = PENALISED_NOTE if reg > 0 else ""
    coefs = coef_frame(features, beta, beta - z * se[m:], beta + z * se[m:], note)
    description = (
        f"arena-rank 0.1.1 ContextualBradleyTerry: {n} rows, features (a-b)/(a+b) z-scored, "
        f"{'inverse pair-frequency weights (floor ' + str(min_pair_count) + ')' if reweighted else 'unweighted'}, "
        f"mean log-loss + {reg:g}/2 ||beta||^2 (style coefficients only), strengths with mean 0; "
        f"its sandwich (Hessian without the L2 term + {hessian_reg:g} I); ratings 1000 + 400/ln10 * strength."
    )
    return PresetResult(who, table, coefs, anchor, level, description, covariance=cov)


def arena_rank_sandwich(
    d: BattleRows, x, theta, beta, *, reg: float, hessian_reg: float
) -> np.ndarray:
    """arena-rank's ``compute_hessian_and_covariance`` and ``H⁻¹ G H⁻¹ / n`` (its conventions)."""
    n, m, k = len(d.a), len(d.models), x.shape[1]
    eta = theta[d.a] - theta[d.b] + (x @ beta if k else 0.0)
    prob = expit(eta)
    hess = assemble(prob * (1 - prob) * d.w / n, d.a, d.b, x, m) + hessian_reg * np.eye(m + k)
    grad_cov = assemble(((d.y - prob) * d.w) ** 2 / n, d.a, d.b, x, m)
    params = np.r_[np.zeros(m), beta]
    grad_cov -= (reg**2 / n) * np.outer(params, params)
    inv = np.linalg.inv(hess)
    return inv @ grad_cov @ inv / n
