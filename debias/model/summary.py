"""The printable summary of one model's fit: the header that says what was fitted and how
its standard errors were computed, above the coefficient table."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from debias.errors import FitWarning


@dataclass
class Summary:
    """A printable summary: a header and a table."""

    header: str
    table: pd.DataFrame

    def __str__(self) -> str:
        return f"{self.header}\n{self.table.to_string(float_format=lambda v: f'{v:.4f}')}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "<br>".join(self.header.splitlines())
        return f"<p>{head}</p>{self.table.to_html(float_format=lambda v: f'{v:.4f}')}"


def penalty_text(self) -> str:
    parts = []
    if self.penalty:
        parts.append(f"{self.penalty.upper()} on the slopes, alpha={self.alpha:g}")
    if self.solver == "alpaca_eval":
        parts.append("L1 on the slopes, strength chosen by cross-validation (the reference)")
    if self.regularization:
        parts.append(self.regularization)
    return "; ".join(parts) if parts else "none"


def bounds_text(self) -> str | None:
    if self.lower is None and self.upper is None:
        return None
    lo = np.full(len(self.params), -np.inf) if self.lower is None else self.lower
    hi = np.full(len(self.params), np.inf) if self.upper is None else self.upper
    hit = set(self.on_bound())
    items = [
        f"{c} in [{a:g}, {b:g}]" + (" (on the bound)" if c in hit else "")
        for c, a, b in zip(self.columns, lo, hi, strict=True)
        if np.isfinite(a) or np.isfinite(b)
    ]
    return ", ".join(items) if items else None


def summarize(self, level: float = 0.95) -> Summary:
    """A coefficient table (renders as HTML in a notebook, as text in a terminal).

    The header states the solver and its convergence status, the penalty and its
    strength, the bounds and which coefficients sit on one, and how the standard
    errors were computed; where Wald inference is not valid the SE, z, p-value and
    interval columns are NaN and the header says why.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)  # the header says it instead
        ci = self.conf_int(level)
        bse, z, pv = self.bse, self.tvalues, self.pvalues
    table = pd.DataFrame(
        {
            "coef": self.params,
            "std err": bse,
            "t": z,
            "P>|t|": pv,
            f"[{(1 - level) / 2:.3g}": ci["conf_low"],
            f"{(1 + level) / 2:.3g}]": ci["conf_high"],
        }
    )
    status = self.status or ("converged" if self.converged else "did not converge")
    lines = [
        f"Model: {self.model}   Baseline: {self.baseline}   Judgments: {self.nobs}   "
        f"Instructions: {self.n_clusters}",
        f"Solver: {self.solver}   Converged: {self.converged} ({status})",
        f"Formula: logit P(model preferred) = {' + '.join(self.columns)}",
        f"Penalty: {penalty_text(self)}",
    ]
    bounds = bounds_text(self)
    if bounds:
        lines.append(f"Bounds: {bounds}")
    why = self.wald_problem
    if why is not None:
        lines.append(
            f"No Wald inference: {why}; standard errors, t, p-values and intervals would not "
            f"be valid (NaN); {self.bootstrap_offer()}."
        )
    else:
        method = "sandwich"
        if self.two_stage is not None:
            self.influence()  # resolves whether the stage-1 correction applied
            method = self.two_stage.method
        lines.append(
            f"Standard errors (clustered by instruction): {method}. "
            f"Intervals and p-values: t with {self.df_resid} df."
            + (
                " Penalised fit: the intervals describe the penalised estimator's spread, "
                "not its shrinkage toward the penalty's centre."
                if penalty_text(self) != "none"
                else ""
            )
            + (" Intervals are cut at the bounds." if bounds else "")
        )
    problem = self.support_problem()
    if problem is not None:
        lines.append(f"Warning: the data cannot support this fit: {problem}.")
    return Summary("\n".join(lines), table)
