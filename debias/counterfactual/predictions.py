"""Counterfactual predictions of the judge's verdicts against the fit's baseline:
:func:`predictions` (one row per judgment), :func:`avg_predictions` (averaged per model, e.g. the
length-controlled win rate) and :func:`comparisons` (the change between two counterfactuals).

The three share one signature (as marginaleffects' do): ``(fit, *, models=None, at=None,
level=0.95, ...)``. ``models``: which fitted models (default all); ``at``: the counterfactual
(default: every mediator at "no difference" from the baseline's answer; see
:func:`~debias.counterfactual.apply_at`); ``level``: the confidence level of ``conf_low,
conf_high``. Every table has ``estimate, std_error, conf_low, conf_high`` in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.counterfactual.apply import apply_at, counterfactual_designs, fitted_models
from debias.inference.cluster import cluster_se, critical_value, sum_by_code
from debias.model.params import INFERENCE_CONSTRAINTS, validate

SE_METHODS = ("sem", "sandwich", "bootstrap")
#: ``comparisons(at_reference=OBSERVED)``: the data as observed (no mediator changed).
OBSERVED: Mapping = MappingProxyType({})


def predictions(
    fit,
    *,
    newdata: pd.DataFrame | None = None,
    models=None,
    at: Mapping | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per-judgment counterfactual predictions P(model preferred), in [0, 1].

    Parameters
    ----------
    fit : PreferenceGLM
        A fitted estimator.
    newdata : pandas.DataFrame, optional
        Rows as the formula sees them for one model (default: each model's own rows).
    models : list of str, optional
        Which models (default all fitted, the baseline excluded).
    at : mapping, optional
        The counterfactual (default: every mediator at "no difference").
    level : float
        Confidence level of ``conf_low, conf_high`` (default 0.95).

    Returns
    -------
    pandas.DataFrame
        ``model, instruction, estimate, std_error, conf_low, conf_high`` (delta method,
        cluster-robust coefficients; 95%, Student's t with instructions − 1 degrees of
        freedom). Standard errors and intervals are NaN (never of zero width) where the
        sandwich is not valid or the model's data cannot support its fit.
    """
    rows = []
    for m in fitted_models(fit, models):
        res = fit.results_[m]
        frame = res.frame if newdata is None else newdata
        cf = apply_at(frame, fit.spec_.mediators, at)
        X = res.design_matrix(cf)
        eta = X @ res.params.to_numpy()
        p = expit(eta)
        J = (p * (1 - p))[:, None] * X
        cov = res.cov_params().to_numpy().copy()
        if res.fixed.size:  # coefficients held at 0 contribute no variance
            cov[res.fixed, :] = 0.0
            cov[:, res.fixed] = 0.0
        se = np.sqrt(np.einsum("ij,jk,ik->i", J, cov, J))
        unsupported = res.support_problem() is not None
        se = np.where(np.isfinite(se) & (se > 0) & ~unsupported, se, np.nan)
        z = critical_value(level, df=res.n_clusters - 1)
        instr = res.instructions if newdata is None else np.arange(len(frame))
        rows.append(
            pd.DataFrame(
                {
                    "model": m,
                    "instruction": instr,
                    "estimate": p,
                    "std_error": se,
                    "conf_low": np.clip(p - z * se, 0, 1),
                    "conf_high": np.clip(p + z * se, 0, 1),
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def average_with_influence(
    res,
    at: Mapping | None,
    mediators,
    X0: np.ndarray | None = None,
    coef_influence: pd.DataFrame | None = None,
) -> tuple[float, pd.Series, np.ndarray]:
    """Mean counterfactual prediction of one model and its per-instruction influence.

    The influence of instruction x on the average is
    ``(p_x - mean)/n + g' H^-1 s_x`` (stacked estimating equations: the average over
    instructions and the model's score equations), so its cross-product is the
    cluster-robust variance for the population of instructions.

    Parameters
    ----------
    res : ModelResults
    at : mapping, optional
        The counterfactual (see :func:`apply_at`).
    mediators : iterable of str
    X0 : ndarray, optional
        The counterfactual design, when already computed (:func:`counterfactual_designs`).
    coef_influence : pandas.DataFrame, optional
        The coefficients' per-instruction influence (default ``res.influence()``).
    """
    X = res.design_matrix(apply_at(res.frame, mediators, at)) if X0 is None else X0
    p = expit(X @ res.params.to_numpy())
    n = len(p)
    est = float(p.mean())
    grad = ((p * (1 - p))[:, None] * X).mean(axis=0)
    coef_infl = res.influence() if coef_influence is None else coef_influence
    codes, uniques = res.cluster_codes()
    own = pd.Series(sum_by_code((p - est) / n, codes, len(uniques)), index=uniques)
    own = own.reindex(coef_infl.index, fill_value=0.0).to_numpy()
    total = own + coef_infl.to_numpy() @ np.nan_to_num(grad)
    own_influence = coef_influence is None or (
        res.two_stage is not None and coef_influence is res.two_stage(res.model)
    )
    gamma_infl = res.two_stage.gamma() if res.two_stage is not None and own_influence else None
    if gamma_infl is not None and "difficulty" in res.columns:
        # the average also uses γ̂ directly (the difficulty column of the design)
        jd = res.columns.index("difficulty")
        d = p * (1 - p) * res.params.iloc[jd] / n  # d(average) / d(γ of each row's instruction)
        per_gamma = pd.Series(sum_by_code(d, codes, len(uniques)), index=uniques)
        per_gamma = per_gamma.reindex(gamma_infl.index, fill_value=0.0).to_numpy()
        direct = pd.Series(per_gamma @ gamma_infl.to_numpy(), index=gamma_infl.columns)
        total = total + direct.reindex(coef_infl.index, fill_value=0.0).to_numpy()
    infl = pd.Series(total, index=coef_infl.index)
    return est, infl, p


def avg_predictions(
    fit,
    *,
    models=None,
    at: Mapping | None = None,
    level: float = 0.95,
    se: str = "sandwich",
    n_boot: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Average counterfactual P(model preferred) per model: the length-controlled win rate.

    Parameters
    ----------
    fit : PreferenceGLM
    at : mapping, optional
        Counterfactual (default: every mediator at "no difference").
    se : {"sem", "sandwich", "bootstrap"}
        ``sem``: the reference's number, the SEM of the per-instruction predictions
        (ignores judge noise and parameter uncertainty: not a real standard error);
        ``sandwich``: cluster-robust by instruction, delta method through the average,
        for the population of instructions (difficulty treated as a known covariate);
        ``bootstrap``: instructions resampled (multinomial weights shared by all models),
        every model refitted, percentile interval.
    level : float
        Confidence level of ``conf_low, conf_high``.

    Returns
    -------
    pandas.DataFrame
        ``model, estimate, std_error, conf_low, conf_high, note`` in [0, 1]. Honest by
        construction: the baseline is 0.5 by definition (no standard error or interval,
        note ``"baseline (50 by definition)"``); a model whose data cannot support its
        fit (:meth:`~debias.model.results.ModelResults.support_problem`: too few judgments,
        separation, a mediator without variation) has a NaN estimate and the reason in
        ``note``; a fit where the sandwich is not valid (an L1 penalty, a coefficient on
        a bound: :attr:`~debias.model.results.ModelResults.wald_problem`) has NaN
        ``se="sandwich"`` intervals with the reason. Sandwich intervals use Student's t
        with (the model's instructions − 1) degrees of freedom. No interval is ever of
        zero width: a zero spread gives NaN.
    """
    settings = dict(se=se, level=level, n_boot=n_boot, seed=seed, n_jobs=n_jobs, progress=progress)
    validate(INFERENCE_CONSTRAINTS, settings, "avg_predictions")
    names = fitted_models(fit, models) if models is not None else list(fit.models_)
    designs = counterfactual_designs(fit, at, names)
    out = []
    for m in names:
        if m == fit.baseline_:
            out.append((m, 0.5, np.nan, np.nan, np.nan, BASELINE_NOTE))
            continue
        res = fit.results_[m]
        problem = res.support_problem()
        if problem is not None:
            out.append((m, np.nan, np.nan, np.nan, np.nan, problem))
            continue
        note = ""
        if se != "sandwich":  # sem and bootstrap need no influence functions
            p = expit(designs[m] @ res.params.to_numpy())
            est = float(p.mean())
            # sem: the reference's number; bootstrap: filled in from the replicates below
            s = float(np.std(p, ddof=1) / np.sqrt(len(p))) if len(p) > 1 else np.nan
            z = critical_value(level)
            if se == "sem" and not has_spread(s):
                note = "se='sem': the counterfactual predictions do not vary (no interval)"
        elif res.wald_problem is not None:
            est = float(expit(designs[m] @ res.params.to_numpy()).mean())
            s, z = np.nan, np.nan
            note = f"no sandwich interval: {res.wald_problem}"
        else:
            est, infl, p = average_with_influence(res, at, fit.spec_.mediators, designs[m])
            s = cluster_se(infl)
            z = critical_value(level, df=res.n_clusters - 1)
            if not has_spread(s):
                note = EXACT_FIT_NOTE
        out.append((m, est, *wald_interval(est, s, z), note))
    table = pd.DataFrame(out, columns=[*RESULT_COLUMNS, "note"])
    if se == "bootstrap":
        from debias.inference.bootstrap import bootstrap

        boot = bootstrap(
            fit,
            lambda models: counterfactual_designs(fit, at, models),
            n_boot=n_boot,
            seed=seed,
            n_jobs=n_jobs,
            progress=progress,
        )
        lo, hi = (1 - level) / 2, (1 + level) / 2
        sub = boot.reindex(columns=names)
        estimated = table["estimate"].notna().to_numpy() & (table["model"] != fit.baseline_)
        spread = sub.std(ddof=1).to_numpy()
        low, high = sub.quantile(lo).to_numpy(), sub.quantile(hi).to_numpy()
        ok = estimated & np.isfinite(spread) & (spread > 0) & (high > low)
        table["std_error"] = np.where(ok, spread, np.nan)
        table["conf_low"] = np.where(ok, low, np.nan)
        table["conf_high"] = np.where(ok, high, np.nan)
        flat = estimated & ~ok
        table.loc[flat, "note"] = "bootstrap replicates without spread: no interval"
    table[["conf_low", "conf_high"]] = table[["conf_low", "conf_high"]].clip(0, 1)
    return table


BASELINE_NOTE = "baseline (50 by definition)"
RESULT_COLUMNS = ["model", "estimate", "std_error", "conf_low", "conf_high"]


EXACT_FIT_NOTE = (
    "no interval: the fit reproduces every judgment exactly (no residual spread to "
    "estimate the sampling error from)"
)


def has_spread(s: float) -> bool:
    """Whether a standard error is finite and positive (an interval can be drawn from it)."""
    return bool(np.isfinite(s) and s > 1e-12)


def wald_interval(est: float, s: float, z: float) -> tuple[float, float, float]:
    """``(se, low, high)``; all NaN unless the standard error is finite and positive."""
    if not (has_spread(s) and np.isfinite(z)):
        return np.nan, np.nan, np.nan
    return s, est - z * s, est + z * s


def comparisons(
    fit,
    *,
    models=None,
    at: Mapping | None = None,
    at_reference: Mapping | None = OBSERVED,
    level: float = 0.95,
) -> pd.DataFrame:
    """Change in the average prediction between two counterfactuals, per model.

    ``estimate = avg P(at) - avg P(at_reference)``; by default ``at_reference`` is
    :data:`OBSERVED` (the data as observed: nothing changed), and ``at``, as everywhere,
    ``None`` = every mediator at "no difference". Cluster-robust delta method,
    Student's t with (instructions − 1) degrees of freedom; the same ``note`` rules as
    :func:`avg_predictions` (NaN with a reason, never a zero-width interval).

    Examples
    --------
    The length effect on model m's win rate: ``comparisons(fit)`` is the
    controlled minus the observed win rate (negative when m gained from length);
    ``comparisons(fit, at={"length": ratio(1.3)}, at_reference={"length": ratio(1.0)})``
    the effect of answers 30% longer than the baseline's instead of as long.
    """
    critical_value(level)  # checks the level
    rows = []
    names = fitted_models(fit, models)
    hi = counterfactual_designs(fit, at, names)
    lo = counterfactual_designs(fit, at_reference, names)
    for m in names:
        if m == fit.baseline_:
            continue
        res = fit.results_[m]
        problem = res.support_problem()
        if problem is not None:
            rows.append((m, np.nan, np.nan, np.nan, np.nan, problem))
            continue
        if res.wald_problem is not None:
            p1 = expit(hi[m] @ res.params.to_numpy()).mean()
            p0 = expit(lo[m] @ res.params.to_numpy()).mean()
            why = f"no sandwich interval: {res.wald_problem}"
            rows.append((m, float(p1 - p0), np.nan, np.nan, np.nan, why))
            continue
        e1, i1, _ = average_with_influence(res, at, fit.spec_.mediators, hi[m])
        e0, i0, _ = average_with_influence(res, at_reference, fit.spec_.mediators, lo[m])
        s = cluster_se((i1 - i0).to_numpy())
        z = critical_value(level, df=res.n_clusters - 1)
        note = "" if has_spread(s) else EXACT_FIT_NOTE
        rows.append((m, e1 - e0, *wald_interval(e1 - e0, s, z), note))
    return pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "note"])
