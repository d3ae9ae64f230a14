"""One-command audit of a judge's length and style biases.

:func:`audit` fits the preference GLM of every model against the baseline
(unpenalised, no regularisation rows), then answers, for each mediator
(``length``, ``markdown``, ...):

- **Does the judge react to it?** The *pooled slope*: the average over models of
  the per-model coefficient of the mediator's term, with a cluster-robust
  standard error from the per-instruction influence functions (the models share
  instructions, so their slopes are correlated; averaging the influence
  functions over models before squaring accounts for that), and a two-sided
  Wald test (Student's t with G − 1 df, G instructions) of "the judge is
  indifferent to the mediator" (slope 0).
- **How much does it matter?** A *readable effect* in win-rate points: for
  length (and words), the change in a model's average win probability when its
  answers are twice as long as the baseline's instead of equally long
  (``{"length": ratio(2)}`` vs ``{"length": ratio(1)}``); for other mediators,
  the change when the difference to the baseline is removed (``{m: 0}`` vs
  the observed data); averaged over models, × 100, with an influence-function
  interval.
- **What does it do to the leaderboard?** Per model: the raw win rate and
  controlled win rates, each *named by what it controls* (one scheme in tables,
  ``audit.json`` and figure titles):

  - ``{m1}_{m2}_controlled_win_rate`` (e.g. ``length_markdown_controlled_win_rate``):
    every audited mediator at "no difference" (the audit's main estimand; the
    figure "Raw vs length- and markdown-controlled win rate");
  - ``lc_win_rate``: length only, the other mediators as observed: the estimand
    of ``debias leaderboard``'s ``lc_win_rate``, and the same number for the same
    data and formula (``audit(mediators=["length"])`` and
    ``leaderboard(formula=audit_formula(["length"]), lam=0)``);

  each with ``_standard_error``, ``_ci_low``, ``_ci_high`` and ``_shift`` (controlled
  − raw); ``audit.json`` lists them under ``estimands`` with their ``controls``.
  A model whose data cannot support a controlled score gets NaN and a ``note``
  ("not estimable: ...").
- **Does the model describe the judge?** Per-model slopes significantly of the
  sign opposite to the pooled slope, and a binned-residual misfit test
  (:mod:`debias.audit_checks`), stated in the verdict.
- **Degenerate submissions** (the same answer to every prompt, prompt-injection
  markers; :mod:`debias.degenerate`) are flagged in the verdict, the per-model
  ``flags`` column and ``audit.json``.

:func:`run_audit` reads an AlpacaEval tree (or a judgments table) and writes the
report; it is what ``debias audit PATH --out DIR`` runs.

Examples
--------
>>> from debias.simulate import simulate
>>> sim = simulate(n_models=3, n_instructions=150, length_effect=1.0, seed=0)
>>> report = audit(sim.comparisons, progress=False)
>>> report.verdict.startswith("The judge prefers longer answers")
True
>>> list(report.summary["mediator"])
['length', 'markdown']
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from debias.audit_checks import binned_residual_test, opposite_slopes
from debias.audit_report import (
    AuditReport,
    _check_sentences,
    _flag_sentences,
    _sentence,
    check_audit_dir,
    controlled_adjective,
    controls_phrase,
    estimand_prefix,
)
from debias.counterfactual import average_with_influence as _average_with_influence
from debias.counterfactual import ratio
from debias.data import Comparisons
from debias.degenerate import flag_models
from debias.errors import DataWarning, FitWarning, InputError, ParameterError
from debias.formula import resolve_formula
from debias.glm import PreferenceGLM
from debias.mediators import available_mediators
from debias.results import cluster_se, critical_value
from debias.two_stage import coefficient_influence

__all__ = [
    "AuditReport",
    "audit",
    "audit_estimands",
    "audit_formula",
    "check_audit_dir",
    "controls_phrase",
    "estimand_prefix",
    "coefficient_influence",
    "fit_audit_glm",
    "mediator_term",
    "pooled_effect",
    "pooled_slope",
    "run_audit",
]

#: Formula term of each mediator in the default audit formula (others: Arena's
#: difference over sum of the per-output counts, SD-scaled, not centred).
MEDIATOR_TERMS = {
    "length": "tanh(scaled(length))",
    "words": "tanh(scaled(words))",
}
#: Mediators whose readable effect is "twice as long as the baseline's answer".
RATIO_MEDIATORS = ("length", "words")
#: |corrected − raw| (points) above which the audit warns.
LARGE_SHIFT = 10.0
#: |coefficient| above which a model's fit counts as (nearly) separated and is left
#: out of the pooled effects (the solver warns from the same threshold).
SEPARATION_THRESHOLD = 15.0


# ============================================================================ building blocks
def _term_for(mediator: str) -> str:
    return MEDIATOR_TERMS.get(mediator, f"diff_over_sum({mediator}_model, {mediator}_baseline)")


def audit_formula(
    mediators: Sequence[str] = ("length", "markdown"), difficulty: bool = True
) -> str:
    """The audit's default formula for ``mediators``.

    ``length`` and ``words`` enter as ``tanh(scaled(x))`` (AlpacaEval's LC
    term), other mediators as ``diff_over_sum(x_model, x_baseline)`` (Chatbot
    Arena's style term); ``+ difficulty`` when ``difficulty``.

    Examples
    --------
    >>> audit_formula(("length", "markdown"))
    'tanh(scaled(length)) + diff_over_sum(markdown_model, markdown_baseline) + difficulty'
    >>> audit_formula(["length"], difficulty=False)
    'tanh(scaled(length))'
    """
    terms = [_term_for(m) for m in mediators]
    if difficulty:
        terms.append("difficulty")
    return " + ".join(terms)


def _check_mediators(mediators) -> list[str]:
    if isinstance(mediators, str):
        mediators = [mediators]
    mediators = list(dict.fromkeys(mediators or ()))
    if not mediators:
        raise ParameterError("The 'mediators' parameter must name at least one mediator.")
    known = available_mediators()
    unknown = [m for m in mediators if m not in known]
    if unknown:
        raise ParameterError(
            f"The 'mediators' parameter names unknown mediator(s) {unknown}; available: {known}. "
            "Register your own with debias.mediators.register_mediator()."
        )
    return mediators


def _n_models(comparisons: Comparisons) -> int:
    baseline = comparisons.require_fixed_baseline()
    return len([m for m in comparisons.models if m != baseline])


def fit_audit_glm(
    comparisons: Comparisons,
    *,
    mediators: Sequence[str] = ("length", "markdown"),
    formula: str | None = None,
    difficulty="auto",
) -> PreferenceGLM:
    """Fit the audit's GLM: per-model maximum likelihood, no penalty, no regularisation.

    Parameters
    ----------
    comparisons : Comparisons
        One judge, one baseline.
    mediators : sequence of str
        Mediators of the default formula (see :func:`audit_formula`).
    formula : str, optional
        Your own right-hand side instead (must use the mediators audited).
    difficulty : {"auto", "fit", "none"} or path or Difficulty
        ``"auto"``: fit the instruction difficulty jointly when there are at least
        3 models besides the baseline, else leave it out.

    Returns
    -------
    PreferenceGLM
    """
    if not isinstance(comparisons, Comparisons):
        raise InputError(
            f"audit() expects a debias.Comparisons, got {type(comparisons).__name__}; read one "
            "with debias.io.read_alpaca_eval(...) or use run_audit(path)."
        )
    if len(comparisons.judges) > 1:
        raise InputError(
            f"{comparisons.source}: judgments of several judges {comparisons.judges}; audit one "
            "judge at a time (comparisons.select(judge=...) or run_audit(..., judge=...))."
        )
    n = _n_models(comparisons)
    if n == 0:
        raise InputError(
            f"{comparisons.source}: no model besides the baseline {comparisons.baselines}; "
            "nothing to audit."
        )
    is_str = isinstance(difficulty, str)
    if is_str and difficulty not in ("auto", "fit", "none") and not Path(difficulty).exists():
        raise ParameterError(
            "The 'difficulty' parameter must be 'auto', 'fit', 'none', a Difficulty or a CSV path. "
            f"Got {difficulty!r} instead."
        )
    if formula is None:
        use = not (is_str and difficulty == "none") and not (
            is_str and difficulty == "auto" and n < 3
        )
        formula = audit_formula(mediators, difficulty=use)
        glm_difficulty = ("fit" if difficulty == "auto" else difficulty) if use else "none"
    else:
        spec = resolve_formula(formula)
        if spec.uses_difficulty:
            glm_difficulty = "fit" if is_str and difficulty == "auto" else difficulty
        else:
            glm_difficulty = "none"
    glm = PreferenceGLM(formula=formula, difficulty=glm_difficulty, lam=0.0)
    return glm.fit(comparisons)


def mediator_term(fit: PreferenceGLM, mediator: str) -> str:
    """The coefficient (column of ``fit.params_``) of ``mediator``'s term.

    The first coefficient whose name uses the mediator (``length``,
    ``length_model`` or ``length_baseline``).

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> fit = fit_audit_glm(simulate(n_models=2, n_instructions=80, seed=0).comparisons)
    >>> mediator_term(fit, "markdown")
    'diff_over_sum(markdown_model, markdown_baseline)'
    """
    pattern = re.compile(rf"\b{re.escape(mediator)}(_model|_baseline)?\b")
    for col in fit.columns_:
        if col not in ("strength", "difficulty") and pattern.search(col):
            return col
    raise ParameterError(
        f"The fitted formula {fit.spec_.rhs!r} has no term in {mediator!r}; its coefficients "
        f"are {fit.columns_}."
    )


def _separated(res) -> bool:
    return (not res.converged) or bool(np.any(np.abs(res.params.to_numpy()) > SEPARATION_THRESHOLD))


def _pool_models(fit: PreferenceGLM, term: str | None, models=None) -> tuple[list[str], list[str]]:
    """Models entering a pooled effect, and those left out (separated or unidentified)."""
    names = [m for m in fit.models_ if m in fit.results_] if models is None else list(models)
    keep, out = [], []
    for m in names:
        res = fit.results_[m]
        bad = _separated(res) or _support_problem(res) is not None
        if term is not None and res.fixed.size:
            bad |= bool(res.fixed[list(res.params.index).index(term)])
        (out if bad else keep).append(m)
    return keep, out


def _t_interval(estimate: float, se: float, n_clusters: int, level: float):
    """Wald interval and two-sided p-value, Student's t with G − 1 df (G clusters).

    NaN (never a zero-width interval) when the SE is not a positive number or G < 2.
    """
    df = n_clusters - 1
    if not (np.isfinite(estimate) and np.isfinite(se) and se > 0 and df >= 1):
        return float("nan"), float("nan"), float("nan")
    q = float(stats.t.ppf(0.5 + level / 2, df))
    p = float(2 * stats.t.sf(abs(estimate) / se, df))
    return float(estimate - q * se), float(estimate + q * se), p


def _wald(estimate: float, infl: pd.Series, level: float) -> dict[str, float]:
    se = cluster_se(infl)
    lo, hi, p = _t_interval(estimate, se, len(infl), level)
    return {
        "estimate": float(estimate),
        "std_error": se,
        "conf_low": lo,
        "conf_high": hi,
        "p_value": p,
    }


def _exclusion_reason(res) -> str:
    problem = _support_problem(res)
    if problem is not None:
        return problem
    return "separated or not converged" if _separated(res) else "a mediator term not identified"


def _support_problem(res) -> str | None:
    """Why the model's data cannot support its controlled score (None: they can)."""
    check = getattr(res, "support_problem", None)
    return check() if callable(check) else None


def _average_influence(parts: list[pd.Series]) -> pd.Series:
    """Average of per-model influence Series (indexed by instruction; 0 where absent)."""
    total = pd.concat(parts, axis=1).fillna(0.0).sum(axis=1)
    return total / len(parts)


# ============================================================================ influence
def _fit_influence(fit) -> tuple[dict[str, pd.DataFrame], str]:
    """Each model's coefficient influence as its results report it, and the method's name."""
    influence = {m: res.influence() for m, res in fit.results_.items()}
    provider = next((r.two_stage for r in fit.results_.values() if r.two_stage is not None), None)
    return influence, provider.method if provider is not None else coefficient_influence(fit)[1]


def _influence(fit, influence):
    return _fit_influence(fit)[0] if influence is None else influence


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
    ``SEPARATION_THRESHOLD`` or no convergence) or whose ``term`` is unidentified
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
    keep, out = _pool_models(fit, term, models)
    if not keep:
        res = {k: float("nan") for k in ("estimate", "std_error", "conf_low", "conf_high")}
        return {**res, "p_value": float("nan"), "n_models": 0, "models": [], "excluded": out}
    influence = _influence(fit, influence)
    est = float(np.mean([fit.results_[m].params[term] for m in keep]))
    infl = _average_influence([influence[m][term] for m in keep])
    return {**_wald(est, infl, level), "n_models": len(keep), "models": keep, "excluded": out}


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
    keep, out = _pool_models(fit, term, models)
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
        **_wald(est, _average_influence(parts), level),
        "per_model": per_model,
        "per_model_se": per_se,
        "n_models": len(keep),
        "excluded": out,
    }


def _effect_spec(mediator: str) -> tuple[dict, dict, str]:
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


# ============================================================================ model checks
def _model_checks(fit, per_model, summary, level, influence, excluded) -> dict:
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
        bys.append("fitted")  # see debias.audit_checks: a fitted difficulty biases this one
    misfit = []
    models = list(keep["model"])
    for by in bys:
        if models:
            misfit.append(binned_residual_test(fit, by=by, models=models, influence=influence))
    return {"opposite_slopes": opposite, "misfit": misfit}


# ============================================================================ audit
def audit(
    comparisons: Comparisons,
    *,
    mediators: Sequence[str] = ("length", "markdown"),
    formula: str | None = None,
    difficulty="auto",
    level: float = 0.95,
    out=None,
    progress: bool = True,
) -> AuditReport:
    """Audit a judge's length and style biases.

    Parameters
    ----------
    comparisons : Comparisons
        Judgments of one judge against one fixed baseline.
    mediators : sequence of str, default ("length", "markdown")
        Mediators to audit (see :func:`debias.mediators.available_mediators`).
    formula : str, optional
        Your own right-hand side (default :func:`audit_formula`); it must contain a
        term in each audited mediator.
    difficulty : {"auto", "fit", "none"} or path or Difficulty, default "auto"
        ``"auto"``: fit the shared instruction difficulty when there are at least 3
        models besides the baseline, else leave it out.
    level : float, default 0.95
        Confidence level of every interval; tests are at 1 − level.
    out : path, optional
        Also write the report there (:meth:`AuditReport.write`).
    progress : bool, default True
        Show a progress bar over the stages (on stderr).

    Returns
    -------
    AuditReport

    Warns
    -----
    FitWarning
        A controlled score is more than 10 points from the raw one (the models are
        named), or models were left out of the pooled effects (separated fits).

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> sim = simulate(n_models=1, n_instructions=200, length_effect=0.0, seed=2)
    >>> report = audit(sim.comparisons, mediators=["length"], progress=False)
    >>> report.info["difficulty"]
    'none'
    >>> report.verdict.startswith("No evidence")
    True
    """
    critical_value(level)
    mediators = _check_mediators(mediators)
    stages = ["fitting per-model GLMs", "pooled slopes", "readable effects", "win rates", "verdict"]
    if out is not None:
        check_audit_dir(Path(out))  # before the fit, not after it
        stages.append("writing report")
    bar = tqdm(total=len(stages), desc="audit", unit="stage", file=sys.stderr, disable=not progress)
    caught: list[warnings.WarningMessage] = []
    with bar:
        bar.set_postfix_str(stages[0])
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fit = fit_audit_glm(
                comparisons, mediators=mediators, formula=formula, difficulty=difficulty
            )
        caught += rec
        missing = [m for m in mediators if m not in fit.spec_.mediators]
        if missing:
            raise ParameterError(
                f"The formula {fit.spec_.rhs!r} does not use the audited mediator(s) {missing}."
            )
        bar.update()

        bar.set_postfix_str(stages[1])
        terms = {m: mediator_term(fit, m) for m in mediators}
        # the fit's own (cached) influences: the LC averages then also count the direct
        # effect of the estimated difficulty (debias.counterfactual.average_with_influence)
        influence, se_method = _fit_influence(fit)
        slopes = {
            m: pooled_slope(fit, terms[m], level=level, influence=influence) for m in mediators
        }
        bar.update()

        bar.set_postfix_str(stages[2])
        effects = {}
        for m in mediators:
            hi, lo, desc = _effect_spec(m)
            eff = pooled_effect(fit, hi, lo, level=level, term=terms[m], influence=influence)
            effects[m] = {**eff, "desc": desc}
        bar.update()

        bar.set_postfix_str(stages[3])
        estimands = audit_estimands(mediators)
        main = next(iter(estimands))
        per_model = _per_model_table(
            fit, comparisons, mediators, terms, effects, level, influence, estimands
        )
        flags = flag_models(comparisons, models=list(per_model["model"]), warn=False)
        per_model["flags"] = per_model["model"].map(flags.set_index("model")["flags"]).fillna("")
        bar.update()

        bar.set_postfix_str(stages[4])
        rows = []
        for m in mediators:
            s, e = slopes[m], effects[m]
            rows.append(
                {
                    "mediator": m,
                    "term": terms[m],
                    "estimate": s["estimate"],
                    "std_error": s["std_error"],
                    "conf_low": s["conf_low"],
                    "conf_high": s["conf_high"],
                    "p_value": s["p_value"],
                    "n_models": s["n_models"],
                    "effect": e["estimate"],
                    "effect_std_error": e["std_error"],
                    "effect_conf_low": e["conf_low"],
                    "effect_conf_high": e["conf_high"],
                    "effect_p_value": e["p_value"],
                    "effect_description": e["desc"],
                }
            )
        summary = pd.DataFrame(rows)
        excluded = sorted({x for s in slopes.values() for x in s["excluded"]})
        checks = _model_checks(fit, per_model, summary, level, influence, excluded)
        verdict = " ".join(
            [_sentence(r, level) for r in rows]
            + _check_sentences(checks, level)
            + _flag_sentences(per_model)
        )

        new_warnings = []
        if excluded:
            why = {m: _exclusion_reason(fit.results_[m]) for m in excluded}
            new_warnings.append(
                "Left out of the pooled effects and the model checks: "
                + "; ".join(f"{m} ({r})" for m, r in why.items())
                + ". Their per-model numbers are shown but unreliable."
            )
        big = per_model[per_model[f"{main}_shift"].abs() > LARGE_SHIFT]
        if len(big):
            shown = ", ".join(
                f"{m} ({d:+.1f})" for m, d in zip(big["model"], big[f"{main}_shift"], strict=True)
            )
            new_warnings.append(
                f"The {controlled_adjective(estimands[main]['controls'])} win rate moves "
                f"more than {LARGE_SHIFT:g} points from the raw win rate for {len(big)} model(s): "
                f"{shown}. Check these fits (extreme lengths or styles, separation) before "
                "trusting the corrected scores."
            )
        for msg in new_warnings:
            caught.append(warnings.WarningMessage(FitWarning(msg), FitWarning, __file__, 0))
        flagged = per_model[per_model["flags"] != ""]
        if len(flagged):
            shown = "; ".join(
                f"{m}: {f}" for m, f in zip(flagged["model"], flagged["flags"], strict=True)
            )
            msg = (
                f"Degenerate submission(s), their controlled win rates do not measure answer "
                f"quality: {shown}. Inspect their answers before ranking them."
            )
            caught.append(warnings.WarningMessage(DataWarning(msg), DataWarning, __file__, 0))
        bar.update()

        base = comparisons.require_fixed_baseline()
        rows_all = comparisons.data
        base_rows = rows_all[rows_all["model"] != base]
        base_len = (
            float(base_rows["output_baseline"].str.len().mean()) if len(base_rows) else float("nan")
        )
        info = {
            "judge": comparisons.judges[0],
            "baseline": base,
            "formula": fit.spec_.rhs,
            "difficulty": fit.difficulty
            if isinstance(fit.difficulty, str)
            else str(fit.difficulty),
            "level": float(level),
            "mediator_names": list(mediators),
            "n_models": int(len(fit.results_)),
            "n_judgments": int(sum(r.nobs for r in fit.results_.values())),
            "n_instructions": int(len({x for r in fit.results_.values() for x in r.instructions})),
            "excluded": excluded,
            "se_method": se_method,
            "baseline_avg_length": base_len,
            "estimands": estimands,
            "main_estimand": main,
            "checks": checks,
            "flags": dict(zip(flagged["model"], flagged["flags"], strict=True)),
        }
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        report = AuditReport(summary, per_model, verdict, fit, info, messages)
        if out is not None:
            bar.set_postfix_str(stages[5])
            report.write(out)
            bar.update()
    for w in caught:  # re-emit, deduplicated, once the bar is closed
        warnings.warn(str(w.message), w.category, stacklevel=2)
    return report


def audit_estimands(mediators: Sequence[str]) -> dict[str, dict]:
    """The controlled win rates the audit reports, by column prefix.

    Every audited mediator at "no difference" (the audit's main estimand) and,
    when length is audited with other mediators, length alone (others as
    observed): the estimand of ``debias leaderboard``'s ``lc_win_rate``.

    Examples
    --------
    >>> list(audit_estimands(["length", "markdown"]))
    ['length_markdown_controlled', 'lc']
    """
    sets = [list(mediators)]
    if "length" in mediators and len(mediators) > 1:
        sets.append(["length"])
    out = {}
    for controls in sets:
        rest = [m for m in mediators if m not in controls]
        out[estimand_prefix(controls)] = {
            "controls": controls,
            "held_as_observed": rest,
            "description": f"win rate with the {controls_phrase(controls)} difference(s) to "
            "the baseline removed"
            + (f", {controls_phrase(rest)} as observed" if rest else "")
            + " (percent)",
        }
    return out


def _per_model_table(fit, comparisons, mediators, terms, effects, level, influence, estimands):
    z = critical_value(level)  # the raw win rate's normal interval
    raw = comparisons.win_rates().set_index("model")
    meds = fit.spec_.mediators
    rows = []
    for m in [x for x in fit.models_ if x in fit.results_]:
        res = fit.results_[m]
        coef_infl = influence[m]
        wr, se = float(raw.loc[m, "win_rate"]), float(raw.loc[m, "standard_error"])
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
        problem = _support_problem(res)
        g = len(coef_infl)
        e0, i0, _ = average_with_influence(res, {}, meds, coef_infl)
        for prefix, spec in estimands.items():
            controls = spec["controls"]
            e1, i1, _ = average_with_influence(res, dict.fromkeys(controls, 0.0), meds, coef_infl)
            est, est_se = 100 * e1, 100 * _se_from(i1)
            if problem is not None:
                est = est_se = float("nan")
            lo, hi, _p = _t_interval(est, est_se, g, level)
            shift = est - wr
            s_lo, s_hi, _p = _t_interval(shift, 100 * _se_from(i1 - i0), g, level)
            row[f"{prefix}_win_rate"] = est
            row[f"{prefix}_standard_error"] = est_se
            row[f"{prefix}_ci_low"] = max(lo, 0.0) if np.isfinite(lo) else lo
            row[f"{prefix}_ci_high"] = min(hi, 100.0) if np.isfinite(hi) else hi
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
            lo, hi, p = _t_interval(est, t_se, g, level)
            row[f"{med}_slope_ci_low"], row[f"{med}_slope_ci_high"], row[f"{med}_slope_p"] = (
                lo,
                hi,
                p,
            )
            row[f"{med}_effect"] = float(effects[med]["per_model"].get(m, np.nan))
        row["separated"] = _separated(res)
        rows.append(row)
    return pd.DataFrame(rows)


def run_audit(path, judge: str | None = None, out_dir="audit", **kw) -> AuditReport:
    """Read judgments and audit the judge; writes the report into ``out_dir``.

    Parameters
    ----------
    path : str or path
        An AlpacaEval data root, ``results/`` folder or annotation file(s)
        (:func:`debias.io.read_alpaca_eval`), or a CSV/JSONL/Parquet judgments table.
    judge : str, optional
        Which judge when several are present.
    out_dir : str or path, default "audit"
        Where to write ``report.md``, ``report.html``, ``audit.json`` and the PNGs
        (``None``: write nothing).
    **kw
        Passed to :func:`audit` (``mediators``, ``formula``, ``difficulty``,
        ``level``, ``progress``). ``progress`` defaults to whether stderr is a
        terminal (no bar in logs).

    Returns
    -------
    AuditReport
    """
    from debias.reports.leaderboard import load_comparisons

    kw.setdefault("progress", sys.stderr.isatty())
    comps = load_comparisons(path, judge=judge, progress=kw["progress"])
    if judge is None and len(comps.judges) > 1:
        raise InputError(
            f"{path}: judgments of several judges {comps.judges}; pick one with judge=... "
            "(--judge on the command line)."
        )
    return audit(comps, out=out_dir, **kw)
