"""One-command audit of a judge: :func:`audit` (judgments in memory) and :func:`run_audit` (files).

Examples
--------
>>> from debias.simulate import simulate
>>> sim = simulate(n_models=3, n_instructions=150, length_effect=1.0, seed=0)
>>> report = audit(sim.comparisons, progress=False)
>>> report.verdict.startswith("The judge prefers longer answers")
True
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from debias.data import Comparisons
from debias.errors import DataWarning, FitWarning, InputError, ParameterError
from debias.inference.cluster import critical_value
from debias.reports.audit.checks import model_checks
from debias.reports.audit.fitting import check_mediators, fit_audit_glm, mediator_term
from debias.reports.audit.naming import audit_estimands, controlled_adjective
from debias.reports.audit.report import AuditReport, check_audit_dir
from debias.reports.audit.stats import (
    LARGE_SHIFT,
    effect_spec,
    exclusion_reason,
    fit_influence,
    per_model_table,
    pooled_effect,
    pooled_slope,
)
from debias.reports.audit.wording import (
    POSITION_NOT_RECORDED,
    check_sentences,
    flag_sentences,
    mediator_sentence,
    models_sentence,
)
from debias.reports.degenerate import flag_models

__all__ = ["audit", "run_audit"]


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
    mediators = check_mediators(mediators)
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
        influence, se_method = fit_influence(fit)
        slopes = {
            m: pooled_slope(fit, terms[m], level=level, influence=influence) for m in mediators
        }
        bar.update()

        bar.set_postfix_str(stages[2])
        effects = {}
        for m in mediators:
            hi, lo, desc = effect_spec(m)
            eff = pooled_effect(fit, hi, lo, level=level, term=terms[m], influence=influence)
            effects[m] = {**eff, "desc": desc}
        bar.update()

        bar.set_postfix_str(stages[3])
        estimands = audit_estimands(mediators)
        main = next(iter(estimands))
        per_model = per_model_table(
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
                    "effect_se": e["std_error"],
                    "effect_ci_low": e["conf_low"],
                    "effect_ci_high": e["conf_high"],
                    "effect_p_value": e["p_value"],
                    "effect_description": e["desc"],
                }
            )
        summary = pd.DataFrame(rows)
        excluded = sorted({x for s in slopes.values() for x in s["excluded"]})
        checks = model_checks(fit, per_model, summary, level, influence, excluded)
        effect_models = slopes[mediators[0]]["models"]
        verdict = " ".join(
            [mediator_sentence(r, level) for r in rows]
            + [models_sentence(effect_models, comparisons.require_fixed_baseline())]
            + check_sentences(checks, level)
            + flag_sentences(per_model)
        )

        new_warnings = []
        if excluded:
            why = {m: exclusion_reason(fit.results_[m]) for m in excluded}
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
            "effect_models": list(effect_models),
            "position": POSITION_NOT_RECORDED,
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
