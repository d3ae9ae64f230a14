"""Counterfactuals of a Bradley–Terry fit over battles, each with an interval.

:class:`BattleResults` wraps one fit (``BTFit``) and its uncertainty (the sandwich clustered
by prompt, or bootstrap replicates over prompts) and answers: the strengths and style
coefficients, ratings on the Elo scale, the win rate of any model against any other, the full
matrix and the scores against an anchor. Every counterfactual holds the style terms at zero
("the same style": both answers alike in every style feature), which is the
style-controlled quantity of a fit with style terms and the plain one of a fit without.

Conventions:

- **Win rate** (percent): the expected score of A against B with a tie worth ½ (the
  logistic ``σ(s_A − s_B)``; with Davidson's ties ``(e^{d/2} + ν/2) / (e^{d/2} + e^{-d/2}
  + ν)``, ``d = s_A − s_B``).
- **Rating** (Elo scale, FastChat's convention): ``400 / ln(10)`` rating points per logit,
  the anchor model at ``anchor_rating`` (1000 by default, as Arena-Hard puts its baseline).
- **Intervals**: ``cov_type="cluster"``: delta method on the cluster-robust covariance,
  Student's t with (prompts − 1) degrees of freedom (as the rest of debias:
  :func:`debias.inference.cluster.critical_value`), symmetric on the reported scale;
  ``cov_type="bootstrap"``: percentiles of the replicates, ``std_error`` their SD.
  A penalised fit or a model whose strength is not supported (``fit.problems``) gets no Wald
  interval, with the reason in ``note`` (never a zero-width interval).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from debias.battles.inference import percentile_interval, sandwich
from debias.counterfactual.predictions import has_spread
from debias.errors import ParameterError
from debias.inference.cluster import critical_value
from debias.model.params import Interval, Options, validate

#: Elo rating points per logit (FastChat: scale 400, base 10).
ELO_PER_LOGIT = 400 / np.log(10)
PENALIZED_NOTE = "penalised fit: no Wald interval (use cov_type='bootstrap')"
ANCHOR_NOTE = "anchor ({value} by definition)"
FIXED_NOTE = "reference model: strength 0 by the identification"
TABLE_COLUMNS = ["estimate", "std_error", "conf_low", "conf_high"]

RESULTS_CONSTRAINTS: dict[str, list] = {
    "cov_type": [Options(("cluster", "bootstrap"))],
    "level": [Interval(float, 0, 1, "neither")],
}


def expected_score(d, nu: float = 0.0):
    """Expected score of A (win 1, tie ½) at strength difference ``d = s_A − s_B``.

    ``nu`` is Davidson's tie parameter (0: no tie model, the logistic ``σ(d)``).

    Examples
    --------
    >>> float(expected_score(0.0)), round(float(expected_score(np.log(3))), 6)
    (0.5, 0.75)
    >>> round(float(expected_score(np.log(3), nu=1.0)), 6)  # ties pull it toward ½
    0.674458
    """
    d = np.asarray(d, dtype=float)
    if nu == 0:
        return expit(d)
    up, down = np.exp(d / 2), np.exp(-d / 2)
    return (up + nu / 2) / (up + down + nu)


def expected_score_slope(d, nu: float = 0.0):
    """Derivative of :func:`expected_score` in ``d`` (for the delta method)."""
    d = np.asarray(d, dtype=float)
    if nu == 0:
        p = expit(d)
        return p * (1 - p)
    up, down = np.exp(d / 2), np.exp(-d / 2)
    num, den = up + nu / 2, up + down + nu
    return (up / 2 * den - num * (up - down) / 2) / den**2


def tie_parameter(fit) -> float:
    """Davidson's ν of a fit (0 when ties count ½ in the binomial likelihood)."""
    if getattr(fit, "ties", "half") != "davidson":
        return 0.0
    return float(fit.nu)


class BattleResults:
    """Strengths, style coefficients and counterfactual win rates of one battle fit.

    Parameters
    ----------
    fit : BTFit
        A Bradley–Terry fit (``debias.battles.newton.fit_newton`` or ``fit_convex``).
    cov_type : {"cluster", "bootstrap"}, default "cluster"
        Sandwich clustered by prompt, or bootstrap ``replicates`` (required then).
    replicates : numpy.ndarray, optional
        ``(n_boot, m + k)`` strengths then coefficients per replicate
        (:func:`debias.battles.inference.bootstrap`; NaN where a replicate could not
        estimate one).
    level : float, default 0.95

    Examples
    --------
    >>> res = BattleResults(demo_fit())
    >>> res.scores("c")[["model", "estimate"]].round(1)
      model  estimate
    0     a      74.5
    1     b      62.9
    2     c      50.0
    """

    def __init__(self, fit, *, cov_type: str = "cluster", replicates=None, level: float = 0.95):
        validate(RESULTS_CONSTRAINTS, {"cov_type": cov_type, "level": level}, "BattleResults")
        self.fit = fit
        self.cov_type = cov_type
        self.level = level
        self.models = [str(m) for m in fit.design.models]
        names = getattr(fit, "coefficient_names", fit.design.covariate_names)
        self.covariate_names = [str(c) for c in names]
        self.nu = tie_parameter(fit)
        m = len(self.models)
        self._estimate = np.concatenate(
            [np.asarray(fit.strengths, float), np.asarray(fit.coefficients, float)]
        )
        problems = dict(getattr(fit, "problems", {}) or {})
        self.problems = {str(k): str(v) for k, v in problems.items()}
        self._estimate[:m][[name in self.problems for name in self.models]] = np.nan
        jac = np.nan_to_num(np.asarray(fit.full_from_free, dtype=float))
        #: strengths fixed by the identification (a reference model at 0): no interval
        self.fixed = {self.models[i] for i in range(m) if not jac[i].any()} - set(self.problems)
        self.n_clusters = int(fit.design.n_clusters)
        self.df = self.n_clusters - 1
        self.cov = None
        self.replicates = None
        if cov_type == "bootstrap":
            if replicates is None:
                raise ParameterError("cov_type='bootstrap' needs replicates= (see bootstrap()).")
            reps = np.asarray(replicates, dtype=float)
            if reps.ndim != 2 or reps.shape[1] != len(self._estimate):
                raise ParameterError(
                    f"replicates= must be (n_boot, {len(self._estimate)}): strengths then "
                    f"coefficients. Got shape {reps.shape}."
                )
            self.replicates = reps
            self.wald_problem = None
        else:
            self.cov = sandwich(fit)
            self.wald_problem = PENALIZED_NOTE if getattr(fit, "penalized", False) else None

    # ------------------------------------------------------------ the machinery
    def _index(self, model: str) -> int:
        if model not in self.models:
            raise ParameterError(
                f"model {model!r} is not in the fit; models= are {', '.join(self.models)}."
            )
        return self.models.index(model)

    def _summarise(self, value, gradient, scale: float = 1.0) -> tuple[float, ...]:
        """``(estimate, std_error, conf_low, conf_high, note)`` of ``scale * value(θ)`` where
        θ is the full vector (strengths then coefficients) and ``gradient(θ)`` its
        derivative (delta method)."""
        est = scale * float(value(self._estimate))
        if not np.isfinite(est):
            return np.nan, np.nan, np.nan, np.nan, ""
        if self.cov_type == "bootstrap":
            reps = scale * np.array([value(r) for r in self.replicates], dtype=float)
            sd, low, high, missing = (float(v[0]) for v in percentile_interval(reps, self.level))
            note = ""
            if missing > 0:
                note = f"{missing:.0%} of the bootstrap replicates could not estimate it"
            if not (has_spread(sd) and high > low):
                return est, np.nan, np.nan, np.nan, "bootstrap replicates without spread"
            return est, sd, low, high, note
        if self.wald_problem is not None:
            return est, np.nan, np.nan, np.nan, self.wald_problem
        g = np.asarray(gradient(self._estimate), dtype=float)
        # only the parameters the quantity depends on: an unsupported model's NaN row and
        # column must not poison the variance of every other quantity
        used = np.flatnonzero(g)
        var = g[used] @ self.cov[np.ix_(used, used)] @ g[used]
        se = abs(scale) * float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else np.nan
        if not has_spread(se):
            return est, np.nan, np.nan, np.nan, "no residual spread: no interval"
        z = critical_value(self.level, df=self.df)
        if not np.isfinite(z):
            return est, np.nan, np.nan, np.nan, "one prompt: no interval"
        return est, se, est - z * se, est + z * se, ""

    def _unsupported(self, *models: str) -> str:
        reasons = [f"{m}: {self.problems[m]}" for m in models if m in self.problems]
        return "; ".join(reasons)

    def _pair(self, a: str, b: str, scale: float, score: bool) -> tuple[float, ...]:
        """Summary of ``s_a − s_b`` (``score=False``) or of the expected score of a vs b."""
        i, j = self._index(a), self._index(b)
        why = self._unsupported(a, b)
        if why:
            return np.nan, np.nan, np.nan, np.nan, why
        value = lambda t: t[i] - t[j]  # noqa: E731

        def gradient(t):
            g = np.zeros_like(t)
            g[i], g[j] = 1.0, -1.0
            return g

        if not score:
            return self._summarise(value, gradient, scale)
        nu = self.nu
        if self.cov_type == "bootstrap":  # percentiles and SD of the replicates' scores
            return self._summarise(lambda t: expected_score(value(t), nu), gradient, scale)
        # Wald: the interval of the strength difference mapped through the (monotone)
        # expected score, inside (0, 100) without clipping; the SE by the delta method
        d, d_se, d_low, d_high, note = self._summarise(value, gradient, 1.0)
        est = scale * expected_score(d, nu)
        se = scale * expected_score_slope(d, nu) * d_se
        low, high = scale * expected_score(d_low, nu), scale * expected_score(d_high, nu)
        return est, se, low, high, note

    # ------------------------------------------------------------ the tables
    def strengths(self) -> pd.DataFrame:
        """``model, estimate, std_error, conf_low, conf_high, note``: the strengths (logits)
        as identified by the fit (``fit.identify``)."""
        rows = []
        for i, name in enumerate(self.models):
            why = self._unsupported(name)
            if why:
                rows.append((name, np.nan, np.nan, np.nan, np.nan, why))
            elif name in self.fixed:
                rows.append((name, 0.0, np.nan, np.nan, np.nan, FIXED_NOTE))
            else:
                rows.append((name, *self._summarise(lambda t, i=i: t[i], _unit(i))))
        return pd.DataFrame(rows, columns=["model", *TABLE_COLUMNS, "note"])

    def coefficients(self) -> pd.DataFrame:
        """``term, estimate, std_error, conf_low, conf_high, p_value, note``: the style
        coefficients (logits per unit of the signed covariate). ``p_value``: two-sided, t
        with (prompts − 1) degrees of freedom on the sandwich; with the bootstrap, the normal
        approximation with the bootstrap SD."""
        m = len(self.models)
        rows = []
        for k, term in enumerate(self.covariate_names):
            if term in self.problems:  # e.g. a covariate that separates the outcomes
                rows.append((term, np.nan, np.nan, np.nan, np.nan, np.nan, self.problems[term]))
                continue
            est, se, low, high, note = self._summarise(lambda t, k=k: t[m + k], _unit(m + k))
            if self.cov_type == "bootstrap":
                p = 2 * stats.norm.sf(abs(est / se)) if has_spread(se) else np.nan
            else:
                p = 2 * stats.t.sf(abs(est / se), self.df) if has_spread(se) else np.nan
            rows.append((term, est, se, low, high, p, note))
        return pd.DataFrame(rows, columns=["term", *TABLE_COLUMNS, "p_value", "note"])

    def ratings(self, anchor: str | None = None, anchor_rating: float = 1000.0) -> pd.DataFrame:
        """Ratings on the Elo scale: ``anchor_rating + 400/ln(10) · (s − s_anchor)``.

        ``model, estimate, std_error, conf_low, conf_high, note``; the interval is that of
        the rating difference to the anchor (the anchor's own row has none). ``anchor``
        defaults to the first model.
        """
        anchor = self.models[0] if anchor is None else anchor
        self._index(anchor)
        rows = []
        for name in self.models:
            if name == anchor:
                note = self._unsupported(name) or ANCHOR_NOTE.format(value=f"{anchor_rating:g}")
                est = anchor_rating if not self._unsupported(name) else np.nan
                rows.append((name, est, np.nan, np.nan, np.nan, note))
                continue
            est, se, low, high, note = self._pair(name, anchor, ELO_PER_LOGIT, score=False)
            rows.append(
                (name, est + anchor_rating, se, low + anchor_rating, high + anchor_rating, note)
            )
        return pd.DataFrame(rows, columns=["model", *TABLE_COLUMNS, "note"])

    def winrate(self, a: str, b: str) -> pd.Series:
        """Win rate (percent, tie ½) of ``a`` against ``b`` with the style terms at zero:
        ``estimate, std_error, conf_low, conf_high, note``."""
        if a == b:
            why = self._unsupported(a)
            return pd.Series(
                [np.nan if why else 50.0, np.nan, np.nan, np.nan, why or "same model (50)"],
                index=[*TABLE_COLUMNS, "note"],
            )
        return pd.Series(self._pair(a, b, 100.0, score=True), index=[*TABLE_COLUMNS, "note"])

    def scores(self, anchor: str) -> pd.DataFrame:
        """Every model's win rate (percent, tie ½, style at zero) against ``anchor``:
        ``model, estimate, std_error, conf_low, conf_high, note`` (the anchor: 50 by
        definition, no interval)."""
        self._index(anchor)
        rows = []
        for name in self.models:
            if name == anchor:
                why = self._unsupported(name)
                rows.append(
                    (
                        name,
                        np.nan if why else 50.0,
                        np.nan,
                        np.nan,
                        np.nan,
                        why or ANCHOR_NOTE.format(value=50),
                    )
                )
                continue
            rows.append((name, *self._pair(name, anchor, 100.0, score=True)))
        return pd.DataFrame(rows, columns=["model", *TABLE_COLUMNS, "note"])

    def pairs(self, models=None) -> pd.DataFrame:
        """Win rate (percent, style at zero) of every model against every other, with its
        interval: ``model, opponent, estimate, std_error, conf_low, conf_high, note``."""
        names = self.models if models is None else [self.models[self._index(m)] for m in models]
        rows = [
            (a, b, *self._pair(a, b, 100.0, score=True)) for a in names for b in names if a != b
        ]
        return pd.DataFrame(rows, columns=["model", "opponent", *TABLE_COLUMNS, "note"])

    def matrix(self) -> pd.DataFrame:
        """Win rate (percent) of the row model against the column model, style at zero
        (NaN for a model whose strength is not supported; intervals: :meth:`pairs`)."""
        s = self._estimate[: len(self.models)]
        out = 100 * expected_score(s[:, None] - s[None, :], self.nu)
        return pd.DataFrame(out, index=pd.Index(self.models, name="model"), columns=self.models)


def _unit(i: int):
    def gradient(t):
        g = np.zeros_like(t)
        g[i] = 1.0
        return g

    return gradient


def demo_fit():
    """A small fit for the examples: three models, one style covariate, 300 prompts."""
    from debias.battles.design import battle_design
    from debias.battles.newton import fit_newton

    rng = np.random.default_rng(0)
    n = 300
    pairs = rng.integers(0, 3, size=(n, 2))
    pairs[:, 1] = (pairs[:, 0] + 1 + rng.integers(0, 2, size=n)) % 3
    names = np.array(["a", "b", "c"])
    truth = np.array([0.8, 0.4, 0.0])
    x = rng.normal(size=n)
    p = expit(truth[pairs[:, 0]] - truth[pairs[:, 1]] + 0.5 * x)
    battles = pd.DataFrame(
        {
            "prompt": np.arange(n).astype(str),
            "model_a": names[pairs[:, 0]],
            "model_b": names[pairs[:, 1]],
            "outcome": (rng.random(n) < p).astype(float),
            "weight": 1.0,
            "length": x,
        }
    )
    return fit_newton(battle_design(battles, covariates=("length",)))
