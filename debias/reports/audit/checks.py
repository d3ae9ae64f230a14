"""Model checks of the audit: does the fitted model describe the judge, model by model?

Two checks whose failure the audit's verdict states:

- :func:`opposite_slopes`: models whose own slope on a mediator is significantly
  of the opposite sign to the pooled slope (e.g. a judge that seems to *punish*
  length for some models while rewarding it on average), tested per model with
  Holm's correction over the models.
- :func:`binned_residual_test`: a Hosmer–Lemeshow-like test of the mean residuals
  (observed − predicted P) in quantile bins of the fitted probability (the
  calibration plot) or of a mediator's difference (the residual plot), pooled
  over models. Unlike Hosmer–Lemeshow's χ² it is valid for soft preferences and
  for models sharing instructions: each bin mean's per-instruction influence
  (its residuals minus the delta-method effect of estimating each model's
  coefficients, :meth:`ModelResults.influence`) gives a cluster-robust
  covariance, and the Wald statistic of "every bin mean is 0" over the first
  G − 1 bins (the last is determined by the others through each model's
  intercept score equation) is referred to χ²(G − 1). The direct effect of a
  fitted instruction difficulty on the predictions is not propagated (its
  estimation enters only through the coefficients' influence).

Level, measured on well-specified simulated judges (6 models × 300 instructions,
40 seeds, rejections at 5%): without a fitted difficulty 5.0% (bins of the
length difference) and 2.5% (bins of the fitted probability); with a fitted
difficulty 0.0% (length bins: conservative) but 17.5% (fitted-probability bins:
a difficulty fitted from few judgments per instruction makes the extreme fitted
probabilities over-confident), so :func:`debias.reports.audit.audit` tests the fitted
probability only when the difficulty is not fitted. Power: a quadratic length
effect fitted with ``tanh`` (8 models × 400 instructions) is rejected at
p < 0.01 (``tests/test_audit_trust.py``).

Examples
--------
>>> from debias.simulate import simulate
>>> from debias.reports.audit.fitting import fit_audit_glm
>>> sim = simulate(n_models=3, n_instructions=200, markdown_effect=0.0, seed=1)
>>> fit = fit_audit_glm(sim.comparisons, mediators=["length"], difficulty="none")
>>> out = binned_residual_test(fit, by="length")
>>> out["df"], out["p_value"] > 0.001
(9, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from debias.errors import ParameterError
from debias.inference.cluster import cluster_factor

__all__ = ["binned_residual_test", "model_checks", "opposite_slopes"]


def _rows(fit, models, by):
    """Per model: (x to bin by, residual, instruction, fitted p, design, weights)."""
    out = []
    for m in models:
        res = fit.results_[m]
        p = res.fitted()
        x = p if by == "fitted" else res.frame[by].to_numpy(float)
        out.append((m, res, np.asarray(x, float), res.y - p, np.asarray(res.instructions), p))
    return out


def binned_residual_test(
    fit, by: str = "fitted", n_bins: int = 10, models=None, influence=None
) -> dict:
    """Wald test that the mean residual is zero in every quantile bin of ``by``.

    Parameters
    ----------
    fit : PreferenceGLM
        A fitted model (unpenalised: the influence must be the estimating equations').
    by : str, default "fitted"
        ``"fitted"`` (bins of the fitted probability: calibration) or one of the
        fit's mediators (bins of its model − baseline difference: the residual plot).
    n_bins : int, default 10
        Quantile bins of ``by``, pooled over models (fewer when values tie).
    models : list of str, optional
        Models to pool (default: every fitted model).
    influence : dict, optional
        Model -> coefficient influence (default: ``fit.results_[m].influence()``).

    Returns
    -------
    dict
        ``by, n_bins, statistic, df, p_value`` and ``worst_bin`` (the bin mean
        residual farthest from zero, in probability points × 100), ``worst_x``
        (the mean of ``by`` in that bin). ``statistic``/``p_value`` are NaN with a
        ``reason`` when the covariance cannot be inverted (too few instructions).
    """
    if by != "fitted" and by not in fit.spec_.mediators:
        raise ParameterError(
            f"The 'by' parameter must be 'fitted' or one of the fit's mediators "
            f"{list(fit.spec_.mediators)}. Got {by!r} instead."
        )
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ParameterError(f"The 'n_bins' parameter must be an int >= 2. Got {n_bins!r} instead.")
    names = [m for m in fit.models_ if m in fit.results_] if models is None else list(models)
    parts = _rows(fit, names, by)
    x_all = np.concatenate([x for _, _, x, _, _, _ in parts])
    edges = np.unique(np.quantile(x_all, np.linspace(0, 1, n_bins + 1)))
    n_g = max(len(edges) - 1, 1)
    insts = pd.Index(pd.unique(np.concatenate([i for *_, i, _ in parts])))
    sums = np.zeros(n_g)
    counts = np.zeros(n_g)
    xsum = np.zeros(n_g)
    binned = []
    for m, res, x, r, inst, p in parts:
        b = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, n_g - 1)
        np.add.at(sums, b, r)
        np.add.at(counts, b, 1.0)
        np.add.at(xsum, b, x)
        binned.append((m, res, b, r, inst, p))
    means = sums / np.maximum(counts, 1.0)
    # per-instruction influence of each bin mean: own residuals, minus the effect of
    # estimating the model's coefficients (d mean_g / d beta = -sum_g p(1-p) w x / n_g)
    infl = np.zeros((len(insts), n_g))
    for _m, res, b, r, inst, p in binned:
        codes = insts.get_indexer(inst)
        np.add.at(infl, (codes, b), r / counts[b])
        X = res.design_matrix()
        w = np.asarray(res.w, float) * p * (1 - p)
        jac = np.zeros((n_g, X.shape[1]))
        np.add.at(jac, b, (w / counts[b])[:, None] * X)
        coef = res.influence() if influence is None else influence[_m]
        coef = coef.reindex(index=insts, fill_value=0.0)
        infl -= coef[list(res.params.index)].to_numpy(float) @ jac.T
    worst = int(np.argmax(np.abs(means)))
    out = {
        "by": by,
        "n_bins": int(n_g),
        "df": int(n_g - 1),
        "worst_bin": float(100 * means[worst]),
        "worst_x": float(xsum[worst] / max(counts[worst], 1.0)),
        "statistic": float("nan"),
        "p_value": float("nan"),
        "reason": "",
    }
    if n_g < 2 or len(insts) <= n_g:
        out["reason"] = f"too few bins or instructions ({n_g} bins, {len(insts)} instructions)"
        return out
    keep = slice(0, n_g - 1)
    cov = infl[:, keep].T @ infl[:, keep] * cluster_factor(len(insts))
    try:
        stat = float(means[keep] @ np.linalg.solve(cov, means[keep]))
    except np.linalg.LinAlgError:
        out["reason"] = "the bins' covariance is singular"
        return out
    if not np.isfinite(stat) or stat < 0:
        out["reason"] = "the bins' covariance is not positive definite"
        return out
    out["statistic"] = stat
    out["p_value"] = float(stats.chi2.sf(stat, n_g - 1))
    return out


def opposite_slopes(per_model: pd.DataFrame, mediator: str, pooled: float, level: float = 0.95):
    """Models whose ``mediator`` slope is significantly of the sign opposite to ``pooled``.

    Parameters
    ----------
    per_model : pandas.DataFrame
        The audit's per-model table (``model``, ``{mediator}_slope``,
        ``{mediator}_slope_ci_low``, ``{mediator}_slope_ci_high``,
        ``{mediator}_slope_p``, ``separated``).
    mediator : str
    pooled : float
        The pooled slope (its sign defines "opposite"; NaN or 0: nothing to report).
    level : float, default 0.95
        Significance 1 − level after Holm's correction over the non-separated models.

    Returns
    -------
    pandas.DataFrame
        ``model, slope, ci_low, ci_high, p_value, p_holm`` of the models found
        (most significant first), and ``attrs["n_opposite_sign"]``: how many
        non-separated models have a point estimate of the opposite sign at all,
        ``attrs["n_tested"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> pm = pd.DataFrame({"model": ["a", "b"], "length_slope": [0.9, -1.1],
    ...     "length_slope_ci_low": [0.5, -1.5], "length_slope_ci_high": [1.3, -0.7],
    ...     "length_slope_p": [1e-5, 2e-6], "separated": [False, False]})
    >>> opposite_slopes(pm, "length", pooled=0.5)["model"].tolist()
    ['b']
    """
    cols = ["model", "slope", "ci_low", "ci_high", "p_value", "p_holm"]
    d = per_model[~per_model["separated"].astype(bool)] if "separated" in per_model else per_model
    d = d[np.isfinite(d[f"{mediator}_slope_p"].to_numpy(float))]
    empty = pd.DataFrame(columns=cols)
    empty.attrs.update(n_opposite_sign=0, n_tested=len(d))
    if not np.isfinite(pooled) or pooled == 0 or d.empty:
        return empty
    sign = np.sign(pooled)
    holm = multipletests(d[f"{mediator}_slope_p"].to_numpy(float), method="holm")[1]
    table = pd.DataFrame(
        {
            "model": d["model"].to_numpy(),
            "slope": d[f"{mediator}_slope"].to_numpy(float),
            "ci_low": d[f"{mediator}_slope_ci_low"].to_numpy(float),
            "ci_high": d[f"{mediator}_slope_ci_high"].to_numpy(float),
            "p_value": d[f"{mediator}_slope_p"].to_numpy(float),
            "p_holm": holm,
        }
    )
    opposite = np.sign(table["slope"]) == -sign
    found = table[opposite & (table["p_holm"] < 1 - level)].sort_values("p_value")
    found = found.reset_index(drop=True)
    found.attrs.update(n_opposite_sign=int(opposite.sum()), n_tested=len(table))
    return found


def model_checks(fit, per_model, summary, level, influence, excluded) -> dict:
    """Per-model slopes against the pooled sign, and binned-residual misfit tests."""
    keep = per_model[~per_model["model"].isin(excluded)]
    opposite = {}
    for row in summary.to_dict("records"):
        med, pooled = row["mediator"], float(row["estimate"])
        found = opposite_slopes(keep, med, pooled, level)
        opposite[med] = {
            "pooled_sign": float(np.sign(pooled)) if np.isfinite(pooled) else float("nan"),
            "n_tested": int(found.attrs["n_tested"]),
            "n_opposite_sign": int(found.attrs["n_opposite_sign"]),
            "models": found.to_dict("records"),
        }
    bys = list(summary["mediator"])
    if not (isinstance(fit.difficulty, str) and fit.difficulty == "fit"):
        bys.append("fitted")  # see debias.reports.audit.checks: a fitted difficulty biases this one
    misfit = []
    models = list(keep["model"])
    for by in bys:
        if models:
            misfit.append(binned_residual_test(fit, by=by, models=models, influence=influence))
    return {"opposite_slopes": opposite, "misfit": misfit}
