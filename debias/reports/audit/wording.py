"""Wording of the judge audit: the verdict's sentences, with every number's own interval.

Every estimate is given with its own interval and p-value; "not estimable: reason"
where no valid interval exists, never "nan".

Examples
--------
>>> format_p(0.0004), format_range(0.1, float("nan"), 2)
('p < 0.001', 'not estimable')
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from debias.mediators import get_mediator
from debias.reports.audit.fitting import RATIO_MEDIATORS

__all__ = [
    "POSITION_NOT_RECORDED",
    "check_sentences",
    "flag_sentences",
    "format_p",
    "format_range",
    "mediator_sentence",
    "models_sentence",
]

#: The one-judge audit's position block: its judgments carry no order shown.
POSITION_NOT_RECORDED = {
    "status": "not estimated",
    "reason": (
        "the order shown is not recorded in these judgments; AlpacaEval shows the same order "
        "for every model on an instruction, a fixed function of the instruction that cannot "
        "be separated from its difficulty. Judgments with both orders: "
        "debias.reports.audit.judges.audit_judges (debias audit --judges)."
    ),
}


def format_p(p: float) -> str:
    if not np.isfinite(p):
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def _fmt_pts(x: float) -> str:
    return f"{x:.1f}".replace("-", "−")


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def format_range(lo: float, hi: float, digits: int) -> str:
    """``lo to hi`` for a table cell; "not estimable" when either end is missing."""
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{lo:.{digits}f} to {hi:.{digits}f}"
    return "not estimable"


def _ci_p(lo: float, hi: float, p: float, pct: str, digits: int) -> str:
    """``95% CI a to b, p = x``; says so when the interval or the p-value is not estimable."""
    if np.isfinite(lo) and np.isfinite(hi):
        ci = f"{pct} CI {_num(lo, digits)} to {_num(hi, digits)}"
    else:
        ci = "interval not estimable: no valid standard error"
    return f"{ci}, {format_p(p)}"


def mediator_sentence(row: Mapping, level: float) -> str:
    """One mediator's verdict: the pooled slope with ITS interval and p-value, then the
    readable effect with ITS interval and p-value."""
    m = row["mediator"]
    pct = f"{100 * level:g}%"
    p = row["p_value"]
    if not np.isfinite(row["estimate"]):
        return f"The {m} effect could not be estimated (no model with an identified {m} slope)."
    sig = bool(np.isfinite(p) and p < 1 - level)
    slope = f"pooled slope of the {m} term {_num(row['estimate'])} log-odds, " + _ci_p(
        row["conf_low"], row["conf_high"], p, pct, 2
    )
    e = row["effect"]
    if np.isfinite(e):
        effect = (
            f"{_fmt_pts(e)} points ("
            + _ci_p(row["effect_ci_low"], row["effect_ci_high"], row["effect_p_value"], pct, 1)
            + ")"
        )
    else:
        effect = "an amount that is not estimable (no model with an identified effect)"
    if m in RATIO_MEDIATORS:
        noun = "length" if m == "length" else "word count"
        more, less = ("longer", "shorter") if m == "length" else ("wordier", "less wordy")
        if sig and row["estimate"] > 0:
            return (
                f"The judge prefers {more} answers ({slope}): doubling an answer's {noun} "
                f"raises its win rate by {effect}."
            )
        if sig:
            return (
                f"The judge prefers {less} answers ({slope}): doubling an answer's {noun} "
                f"lowers its win rate, a change of {effect}."
            )
        return (
            f"No evidence that the judge prefers {more} or {less} answers ({slope}): doubling "
            f"an answer's {noun} changes its win rate by {effect}."
        )
    unit = get_mediator(m).unit or m
    removal = (
        f"removing the {m} differences would change the models' win rates by {effect} on average"
    )
    if sig:
        direction = "more" if row["estimate"] > 0 else "fewer"
        return f"The judge prefers answers with {direction} {unit} ({slope}); {removal}."
    return f"No evidence that the judge reacts to {unit} ({slope}); {removal}."


def models_sentence(models, baseline: str, shown: int = 8) -> str:
    """Which models the pooled effects average over (another set gives another average).

    Examples
    --------
    >>> models_sentence(["a", "b"], "base")
    "These effects average over the 2 models audited against 'base' (a, b); another set of models gives another average."
    """
    names = list(models)
    listed = ", ".join(names[:shown]) + (f", … ({len(names)} in all)" if len(names) > shown else "")
    return (
        f"These effects average over the {len(names)} model{'s' if len(names) != 1 else ''} "
        f"audited against {baseline!r} ({listed}); another set of models gives another average."
    )


def check_sentences(checks: Mapping, level: float) -> list[str]:
    pct = f"{100 * level:g}%"
    out = []
    for med, o in checks["opposite_slopes"].items():
        if not np.isfinite(o["pooled_sign"]) or o["pooled_sign"] == 0:
            continue
        sign = "negative" if o["pooled_sign"] > 0 else "positive"
        found = o["models"]
        if found:
            shown = "; ".join(
                f"{r['model']} {_num(r['slope'])} ("
                + _ci_p(r["ci_low"], r["ci_high"], r["p_value"], pct, 2)
                + f", Holm-adjusted {format_p(r['p_holm'])})"
                for r in found
            )
            out.append(
                f"For {len(found)} of {o['n_tested']} models the {med} slope is significantly "
                f"{sign}, against the pooled slope's sign ({shown}): the judge seems to "
                f"{'penalise' if sign == 'negative' else 'reward'} {med} for them, which one "
                "pooled reading hides."
            )
        rest = o["n_opposite_sign"] - len(found)
        if rest > 0:
            out.append(
                f"{'Another' if found else 'For'} {rest} of {o['n_tested']} models the {med} "
                f"slope's estimate is {sign} but not significantly so (Holm's correction)."
            )
    done = [t for t in checks["misfit"] if np.isfinite(t["p_value"])]
    bad = [t for t in done if t["p_value"] < 1 - level]

    def where(t):
        return "the fitted probability" if t["by"] == "fitted" else f"the {t['by']} difference"

    if bad:
        parts = "; ".join(
            f"against {where(t)}: χ² = {t['statistic']:.1f}, df = {t['df']}, "
            f"{format_p(t['p_value'])}, largest bin mean residual {t['worst_bin']:+.1f} points".replace(
                "-", "−"
            )
            for t in bad
        )
        out.append(
            "The fitted model misfits the judge: the mean residual (observed − predicted) "
            f"departs from zero across bins ({parts}). The controlled win rates rest on this "
            "model's shape; see the residual plot and read them with care."
        )
    elif done:
        out.append(
            "No evidence of misfit in the binned residuals ("
            + "; ".join(f"against {where(t)}: {format_p(t['p_value'])}" for t in done)
            + ")."
        )
    for t in checks["misfit"]:
        if not np.isfinite(t["p_value"]):
            out.append(f"The residual test against {where(t)} is not estimable: {t['reason']}.")
    return out


def flag_sentences(per_model: pd.DataFrame) -> list[str]:
    flagged = per_model[per_model["flags"] != ""]
    if flagged.empty:
        return []
    shown = "; ".join(f"{m} ({f})" for m, f in zip(flagged["model"], flagged["flags"], strict=True))
    return [
        f"Degenerate submission(s): {shown}. Their win rates, raw or controlled, do not measure "
        "answer quality."
    ]
