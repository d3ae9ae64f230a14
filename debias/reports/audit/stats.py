"""The audit's statistics: pooled slopes and effects, per-model controlled win rates.

- :func:`pooled_slope`: the average over models of the per-model coefficient of a
  mediator's term, with a cluster-robust standard error from the per-instruction
  influence functions (the models share instructions, so their slopes are
  correlated; averaging the influence functions over models before squaring
  accounts for that), and a two-sided Wald test (Student's t with G − 1 df, G
  instructions) of "the judge is indifferent to the mediator".
- :func:`pooled_effect`: a readable effect in win-rate points with an
  influence-function interval (:func:`effect_spec` says which counterfactuals).
- :func:`per_model_table`: raw and controlled win rates, shifts and slopes per model.

Every interval is NaN, never of zero width, when its standard error is not valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from debias.counterfactual import average_with_influence as _average_with_influence
from debias.counterfactual import ratio
from debias.errors import ParameterError
from debias.inference.cluster import cluster_se, critical_value
from debias.inference.two_stage import coefficient_influence
from debias.model.glm import PreferenceGLM
from debias.model.separation import is_nearly_separated
from debias.reports.audit.fitting import RATIO_MEDIATORS

__all__ = [
    "LARGE_SHIFT",
    "average_influence",
    "average_with_influence",
    "effect_spec",
    "exclusion_reason",
    "fit_influence",
    "per_model_table",
    "pool_models",
    "pooled_effect",
    "pooled_slope",
    "support_problem",
    "t_interval",
    "wald_test",
]

#: |corrected − raw| (points) above which the audit warns.
LARGE_SHIFT = 10.0


def pool_models(fit: PreferenceGLM, term: str | None, models=None) -> tuple[list[str], list[str]]:
    """Models entering a pooled effect, and those left out (separated or unidentified)."""
    names = [m for m in fit.models_ if m in fit.results_] if models is None else list(models)
    keep, out = [], []
    for m in names:
        res = fit.results_[m]
        bad = is_nearly_separated(res) or support_problem(res) is not None
        if term is not None and res.fixed.size:
            bad |= bool(res.fixed[list(res.params.index).index(term)])
        (out if bad else keep).append(m)
    return keep, out


def t_interval(estimate: float, se: float, n_clusters: int, level: float):
    """Wald interval and two-sided p-value, Student's t with G − 1 df (G clusters).

    NaN (never a zero-width interval) when the SE is not a positive number or G < 2.
    """
    df = n_clusters - 1
    if not (np.isfinite(estimate) and np.isfinite(se) and se > 0 and df >= 1):
        return float("nan"), float("nan"), float("nan")
    q = float(stats.t.ppf(0.5 + level / 2, df))
    p = float(2 * stats.t.sf(abs(estimate) / se, df))
    return float(estimate - q * se), float(estimate + q * se), p


def wald_test(estimate: float, infl: pd.Series, level: float) -> dict[str, float]:
    se = cluster_se(infl)
    lo, hi, p = t_interval(estimate, se, len(infl), level)
    return {
        "estimate": float(estimate),
        "std_error": se,
        "conf_low": lo,
        "conf_high": hi,
        "p_value": p,
    }


def exclusion_reason(res) -> str:
    problem = support_problem(res)
    if problem is not None:
        return problem
    return (
        "separated or not converged"
        if is_nearly_separated(res)
        else "a mediator term not identified"
    )


def support_problem(res) -> str | None:
    """Why the model's data cannot support its controlled score (None: they can)."""
    check = getattr(res, "support_problem", None)
    return check() if callable(check) else None


def average_influence(parts: list[pd.Series]) -> pd.Series:
    """Average of per-model influence Series (indexed by instruction; 0 where absent)."""
    total = pd.concat(parts, axis=1).fillna(0.0).sum(axis=1)
    return total / len(parts)


# ============================================================================ influence
def fit_influence(fit) -> tuple[dict[str, pd.DataFrame], str]:
    """Each model's coefficient influence as its results report it, and the method's name."""
    influence = {m: res.influence() for m, res in fit.results_.items()}
    provider = next((r.two_stage for r in fit.results_.values() if r.two_stage is not None), None)
    return influence, provider.method if provider is not None else coefficient_influence(fit)[1]


def _influence(fit, influence):
    return fit_influence(fit)[0] if influence is None else influence


def _se_from(infl: pd.Series) -> float:
    return cluster_se(infl)


def average_with_influence(res, at, mediators, coef_influence: pd.DataFrame):
    """:func:`debias.counterfactual.average_with_influence` with a given coefficient influence."""
    return _average_with_influence(res, at, mediators, coef_influence=coef_influence)


def pooled_slope(
    fit: PreferenceGLM, term: str, *, level: float = 0.95, models=None, influence=None
) -> dict[str, Any]:
    """Average of the models' coefficients of ``term``, with a cluster-robust Wald test.

    The pooled estimate's influence on instruction x is the average over models
    of each model's influence on the coefficient (:func:`coefficient_influence`:
    :meth:`ModelResults.influence`, plus the estimation of a fitted difficulty);
    its variance is the sum of squares over instructions × G/(G−1) (G
    instructions). Models whose fit is separated (a coefficient beyond
    ``NEAR_SEPARATION`` or no convergence) or whose ``term`` is unidentified
    are left out and listed in ``excluded``.

    Parameters
    ----------
    fit : PreferenceGLM
    term : str
        A coefficient name, e.g. ``mediator_term(fit, "length")``.
    level : float, default 0.95
    models : list of str, optional
        Pool these models only (default: all fitted).
    influence : dict, optional
        Model -> coefficient influence (default: :func:`coefficient_influence`).

    Returns
    -------
    dict
        ``estimate, std_error, conf_low, conf_high, p_value`` (two-sided, null:
        slope 0), ``n_models``, ``models``, ``excluded``.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.reports.audit.fitting import fit_audit_glm, mediator_term
    >>> sim = simulate(n_models=3, n_instructions=150, length_effect=1.0, seed=0)
    >>> fit = fit_audit_glm(sim.comparisons)
    >>> out = pooled_slope(fit, mediator_term(fit, "length"))
    >>> out["p_value"] < 0.01
    True
    """
    if term not in fit.columns_:
        raise ParameterError(
            f"The 'term' parameter must be one of the coefficients {fit.columns_}. Got {term!r}."
        )
    keep, out = pool_models(fit, term, models)
    if not keep:
        res = {k: float("nan") for k in ("estimate", "std_error", "conf_low", "conf_high")}
        return {**res, "p_value": float("nan"), "n_models": 0, "models": [], "excluded": out}
    influence = _influence(fit, influence)
    est = float(np.mean([fit.results_[m].params[term] for m in keep]))
    infl = average_influence([influence[m][term] for m in keep])
    return {**wald_test(est, infl, level), "n_models": len(keep), "models": keep, "excluded": out}


def pooled_effect(
    fit: PreferenceGLM,
    at_hi: Mapping | None,
    at_lo: Mapping | None,
    *,
    level: float = 0.95,
    models=None,
    term: str | None = None,
    influence=None,
) -> dict[str, Any]:
    """Average over models of ``avg P(at_hi) − avg P(at_lo)``, in win-rate points.

    Each model's contrast and its per-instruction influence are those of
    :func:`debias.counterfactual.average_with_influence` (with the coefficient
    influence of :func:`coefficient_influence`); the pooled influence is their
    average over models, giving a cluster-robust Wald interval (× 100:
    percentage points). ``at_lo={}`` is the observed data.

    Returns
    -------
    dict
        ``estimate, std_error, conf_low, conf_high, p_value`` (points),
        ``per_model`` (points, by model), ``per_model_se``, ``n_models``, ``excluded``.
    """
    keep, out = pool_models(fit, term, models)
    influence = _influence(fit, influence)
    meds = fit.spec_.mediators
    per_model, per_se, parts = {}, {}, []
    for m in keep:
        res = fit.results_[m]
        e1, i1, _ = average_with_influence(res, at_hi, meds, influence[m])
        e0, i0, _ = average_with_influence(res, {} if at_lo is None else at_lo, meds, influence[m])
        per_model[m] = 100 * (e1 - e0)
        parts.append(100 * (i1 - i0))
        per_se[m] = _se_from(parts[-1])
    if not keep:
        res = {k: float("nan") for k in ("estimate", "std_error", "conf_low", "conf_high")}
        return {
            **res,
            "p_value": float("nan"),
            "per_model": {},
            "per_model_se": {},
            "n_models": 0,
            "excluded": out,
        }
    est = float(np.mean(list(per_model.values())))
    return {
        **wald_test(est, average_influence(parts), level),
        "per_model": per_model,
        "per_model_se": per_se,
        "n_models": len(keep),
        "excluded": out,
    }


def effect_spec(mediator: str) -> tuple[dict, dict, str]:
    """Counterfactuals of the readable effect of ``mediator`` and its description."""
    if mediator in RATIO_MEDIATORS:
        what = "long" if mediator == "length" else "many words"
        return (
            {mediator: ratio(2.0)},
            {mediator: ratio(1.0)},
            f"win-rate points gained when the model's answers are twice as {what} as the "
            "baseline's instead of equally "
            + ("long" if mediator == "length" else "wordy")
            + " (average over models)",
        )
    return (
        {mediator: 0.0},
        {},
        f"win-rate points changed when the {mediator} difference to the baseline is removed "
        "(average over models; observed -> none)",
    )


def per_model_table(fit, comparisons, mediators, terms, effects, level, influence, estimands):
    z = critical_value(level)  # the raw win rate's normal interval
    raw = comparisons.win_rates().set_index("model")
    meds = fit.spec_.mediators
    rows = []
    for m in [x for x in fit.models_ if x in fit.results_]:
        res = fit.results_[m]
        coef_infl = influence[m]
        wr, se = float(raw.loc[m, "win_rate"]), float(raw.loc[m, "win_rate_se"])
        row = {
            "model": m,
            "n": int(raw.loc[m, "n"]),
            "win_rate": wr,
            "win_rate_se": se,
            "win_rate_ci_low": wr - z * se,
            "win_rate_ci_high": wr + z * se,
        }
        # controlled win rates; shift = controlled − observed average prediction (= the raw
        # win rate: the strength's score equation, unpenalised fit)
        problem = support_problem(res)
        g = len(coef_infl)
        e0, i0, _ = average_with_influence(res, {}, meds, coef_infl)
        for prefix, spec in estimands.items():
            controls = spec["controls"]
            e1, i1, _ = average_with_influence(res, dict.fromkeys(controls, 0.0), meds, coef_infl)
            est, est_se = 100 * e1, 100 * _se_from(i1)
            if problem is not None:
                est = est_se = float("nan")
            lo, hi, _p = t_interval(est, est_se, g, level)
            shift = est - wr
            s_lo, s_hi, _p = t_interval(shift, 100 * _se_from(i1 - i0), g, level)
            row[f"{prefix}_win_rate"] = est
            row[f"{prefix}_win_rate_se"] = est_se
            row[f"{prefix}_win_rate_ci_low"] = max(lo, 0.0) if np.isfinite(lo) else lo
            row[f"{prefix}_win_rate_ci_high"] = min(hi, 100.0) if np.isfinite(hi) else hi
            row[f"{prefix}_shift"] = shift
            row[f"{prefix}_shift_ci_low"] = s_lo
            row[f"{prefix}_shift_ci_high"] = s_hi
        row["note"] = "" if problem is None else f"not estimable: {problem}"
        row["avg_length"] = float(raw.loc[m, "avg_length"])
        for med in mediators:
            t = terms[med]
            est = float(res.params[t])
            t_se = _se_from(coef_infl[t])
            row[f"{med}_slope"] = est
            row[f"{med}_slope_se"] = t_se
            lo, hi, p = t_interval(est, t_se, g, level)
            row[f"{med}_slope_ci_low"], row[f"{med}_slope_ci_high"], row[f"{med}_slope_p"] = (
                lo,
                hi,
                p,
            )
            row[f"{med}_effect"] = float(effects[med]["per_model"].get(m, np.nan))
        row["separated"] = is_nearly_separated(res)
        rows.append(row)
    return pd.DataFrame(rows)
