"""Fitted per-model results: parameters, cluster-robust covariance, summaries, predictions.

When Wald inference is valid (the rule every consumer follows)
--------------------------------------------------------------
Standard errors, z, p-values and intervals here are sandwich (Wald) quantities, and every
downstream number built on :meth:`ModelResults.influence` (LC intervals, contrasts, the
audit, plots) inherits them. They are reported only when the method supports them:

- **Smooth fits** -- the plain maximum-likelihood fit, and smooth penalised fits: an L2
  penalty (``penalty="l2"``), the baseline's variant rows (``lam``, the default preset's
  regularisation) or an L2 penalty toward the variants' or the judge's pooled slopes
  (partial pooling). The sandwich ``H^-1 J H^-1`` of a smooth penalised M-estimator is a
  valid large-sample variance *of that estimator*: intervals describe its sampling
  variability around its own limit, not the shrinkage bias toward the penalty's centre.
  Reported, and the summary names the penalty.
- **Not smooth** -- an L1 penalty (including the reference's procedure,
  ``solver="alpaca_eval"``, whose L1 strength is also chosen from the data by
  cross-validation), and a coefficient that sits on a bound (``bounds=``): the estimator is
  not asymptotically normal there (a point mass at the kink or the bound), so Wald numbers
  would be wrong, and an interval may cross the fit's own constraint. They are NaN, with
  one :class:`~debias.errors.FitWarning` saying why and offering the bootstrap
  (``avg_predictions(fit, se="bootstrap")``, CLI ``--se bootstrap``). Bounds that no
  coefficient reaches are inactive: Wald intervals are given, intersected with the bounds.
- **A fit that did not converge**: nothing is reported either.

Small samples: intervals use Student's t with G - 1 degrees of freedom (G = the model's
instructions, the clusters) instead of the normal; and :meth:`ModelResults.support_problem`
says when the data cannot support the per-model fit at all (too few judgments,
separation, a mediator without variation), in which case controlled scores are missing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, stdtr

from debias.errors import FitWarning, ParameterError
from debias.inference.cluster import cluster_factor, critical_value, sum_by_code
from debias.model.formula import Design
from debias.model.separation import separating_direction
from debias.model.summary import Summary, summarize

MIN_JUDGMENTS_PER_COEFFICIENT = 10
"""Fewer judgments than this per coefficient of the formula (3 in the default: strength,
length, difficulty; so 30): no controlled score. The usual floor for stable
logistic-regression estimates (about ten observations per parameter; Harrell,
*Regression Modeling Strategies*, 2015, sec. 4.4). Counted over all the formula's
coefficients even when a penalty pins some slopes (partial pooling): the sandwich's
k x k meat is still estimated from the model's own instructions, and with the pooled
default and an effective-coefficient count (~1.1, so 11 judgments) the reported intervals
of 20-judgment subsets covered the full-data LC in only 88% of draws (30/34)."""

MIN_EVENTS_PER_COEFFICIENT = 2.0
"""Fewer expected wins (or losses, the rarer) than this per *effective* coefficient
(:meth:`ModelResults.effective_coefficients`): no controlled score (the events-per-variable
rule of logistic regression, Peduzzi et al. 1996, in its loosest form). The sandwich
variance is built from residuals: with one or two expected wins it rests on those one or
two judgments. Measured on the 46 AlpacaEval models (``benchmarks/small_sample_coverage.py``):
with both rules, the reported 95% intervals of subsets of 50 and 100 judgments covered the
model's full-data LC in at least 90% of draws (module docstring of the benchmark)."""

SEPARATION_LOGIT = 36.0
"""A fitted |log-odds| above this (probability within 2e-16 of 0 or 1, where double
precision no longer tells it from 0 or 1) is taken as separation even when the
linear-programming check (:mod:`debias.model.separation`) finds no separating direction."""

SEPARATION_CONDITION = 1e6
"""A condition number of the model's own information matrix above this: near-singular."""


@dataclass
class ModelResults:
    """One model's stage-2 fit against the baseline (statsmodels-like).

    Attributes
    ----------
    model, baseline : str
    params : pandas.Series
        Coefficients on the log-odds scale, ``strength`` first.
    frame : pandas.DataFrame
        The model's own rows as the formula sees them (mediator columns
        ``{name}``, ``{name}_model``, ``{name}_baseline``; ``difficulty``), indexed
        by model; the default ``newdata`` of :meth:`predict`.
    instructions : ndarray of str
        The instruction of each row of ``frame`` (the clusters).
    y, w : ndarray
        Soft labels and weights of the model's own rows.
    hessian : ndarray
        Hessian of the (penalised) objective at the optimum, regularisation rows
        included: the "bread" of the sandwich.
    design : Design
        The fitted formula (its transforms remember this model's statistics).
    solver : str
    converged : bool
        The solver's own verdict (Newton: step size; cvxpy: problem status optimal;
        the reference's solver: no liblinear convergence warning).
    status : str
        The solver's status in words, printed by :meth:`summary`.
    fixed : ndarray of bool
        Coefficients that the data could not identify (held at 0, SE NaN).
    penalty : {None, "l1", "l2"}
        The extra penalty on the slopes, with strength ``alpha``.
    alpha : float
    regularization : str or None
        Other smooth regularisation in words (the baseline's variant rows, an L2 pull
        toward the variants' or the judge's pooled slopes), or None.
    lower, upper : ndarray or None
        Per-coefficient bounds (``-inf``/``inf`` for none), or None without bounds.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.model.glm import PreferenceGLM
    >>> sim = simulate(n_models=2, n_instructions=100, seed=1)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> res = fit.results_["model_0"]
    >>> list(res.params.index)
    ['strength', 'tanh(scaled(length))']
    """

    model: str
    baseline: str
    params: pd.Series
    frame: pd.DataFrame
    instructions: np.ndarray
    y: np.ndarray
    w: np.ndarray
    hessian: np.ndarray
    design: Design
    solver: str = "newton"
    converged: bool = True
    fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    X: np.ndarray | None = field(default=None, repr=False)
    two_stage: object | None = field(default=None, repr=False)
    status: str = ""
    penalty: str | None = None
    alpha: float = 0.0
    regularization: str | None = None
    lower: np.ndarray | None = field(default=None, repr=False)
    upper: np.ndarray | None = field(default=None, repr=False)
    _wald_warned: bool = field(default=False, init=False, repr=False, compare=False)
    _clusters: tuple | None = field(default=None, init=False, repr=False, compare=False)

    # ---------------------------------------------------------------- design & prediction
    @property
    def columns(self) -> list[str]:
        return list(self.params.index)

    @property
    def nobs(self) -> int:
        return len(self.y)

    def design_matrix(self, newdata: pd.DataFrame | None = None) -> np.ndarray:
        """The design matrix of ``newdata`` (default: the model's own rows)."""
        if newdata is None and self.X is not None:
            return self.X
        frame = self.frame if newdata is None else newdata
        if not isinstance(frame.index, pd.Index) or (frame.index != self.model).any():
            frame = frame.set_axis(pd.Index([self.model] * len(frame), name="model"))
        return self.design.matrix(frame, strength=1.0)

    def linear_predictor(self, newdata: pd.DataFrame | None = None) -> np.ndarray:
        """Log-odds that the judge prefers the model, per row of ``newdata``."""
        return self.design_matrix(newdata) @ self.params.to_numpy()

    def predict(self, newdata: pd.DataFrame | None = None) -> np.ndarray:
        """P(model preferred) in [0, 1] per row of ``newdata`` (default: the observed rows).

        ``newdata`` is a frame with the same columns as :attr:`frame`; change the
        mediator columns to ask counterfactual questions (see
        :func:`debias.counterfactual.predictions`).
        """
        return expit(self.linear_predictor(newdata))

    def fitted(self) -> np.ndarray:
        """Predicted P(model preferred) on the observed rows."""
        return self.predict()

    # ---------------------------------------------------------------- inference
    def scores(self) -> np.ndarray:
        """Per-row score contributions ``w (y - p) x`` of the model's own rows, shape (n, k)."""
        X = self.design_matrix()
        return (self.w * (self.y - expit(X @ self.params.to_numpy())))[:, None] * X

    def bread(self) -> np.ndarray:
        """Inverse Hessian (pseudo-inverse on identified coefficients)."""
        k = len(self.params)
        free = ~self.fixed if self.fixed.size else np.ones(k, bool)
        inv = np.zeros((k, k))
        Hf = self.hessian[np.ix_(free, free)]
        inv[np.ix_(free, free)] = np.linalg.pinv(Hf)
        return inv

    @property
    def n_clusters(self) -> int:
        """Number of distinct instructions among the model's rows (the clusters)."""
        return len(self.cluster_codes()[1])

    def cluster_codes(self) -> tuple[np.ndarray, pd.Index]:
        """``pd.factorize(self.instructions)``: each row's cluster code and the distinct
        instructions in order of appearance (computed once per ``instructions`` array)."""
        cached = self._clusters
        if cached is None or cached[0] is not self.instructions:
            codes, uniques = pd.factorize(self.instructions)
            cached = self._clusters = (self.instructions, codes, pd.Index(uniques))
        return cached[1], cached[2]

    def on_bound(self, tol: float = 1e-6) -> list[str]:
        """Coefficients that sit on one of their bounds (empty without bounds)."""
        b = self.params.to_numpy()
        hit = np.zeros(len(b), bool)
        for edge in (self.lower, self.upper):
            if edge is not None:
                e = np.asarray(edge, float)
                with np.errstate(invalid="ignore"):
                    hit |= np.isfinite(e) & (np.abs(b - e) <= tol * (1 + np.abs(e)))
        return [c for c, h in zip(self.columns, hit, strict=True) if h]

    @property
    def wald_problem(self) -> str | None:
        """Why Wald/sandwich inference is not valid for this fit (None: it is).

        See the module docstring for the rule: L1 penalties (the reference's solver
        included) and coefficients on a bound are not smooth; a fit that did not
        converge supports nothing.
        """
        if self.solver == "alpaca_eval":
            return (
                "the reference's procedure (solver='alpaca_eval') is an L1-penalised fit whose "
                "strength is chosen by cross-validation: not smooth, and the penalty depends on "
                "the data"
            )
        if self.penalty == "l1" and self.alpha > 0:
            return f"the L1 penalty (alpha={self.alpha:g}) is not smooth"
        hit = self.on_bound()
        if hit:
            return f"{', '.join(hit)} sit(s) on a bound, where the estimate is not normal"
        if not self.converged:
            return f"the solver did not converge ({self.status or 'no status'})"
        return None

    def bootstrap_offer(self) -> str:
        if self.solver == "alpaca_eval":
            return (
                "for intervals refit with the default solver and use "
                "avg_predictions(fit, se='bootstrap') (CLI --se bootstrap)"
            )
        return "for intervals use avg_predictions(fit, se='bootstrap') (CLI --se bootstrap)"

    def _warn_wald(self) -> None:
        why = self.wald_problem
        if why is not None and not self._wald_warned:
            self._wald_warned = True
            warnings.warn(
                f"No Wald standard errors, p-values or intervals: {why}. They are NaN; "
                f"{self.bootstrap_offer()}.",
                FitWarning,
                stacklevel=3,
            )

    def support_problem(self) -> str | None:
        """Why this model's data cannot support its controlled score (None: they can).

        Checked in order:

        - **too few judgments**: fewer than :data:`MIN_JUDGMENTS_PER_COEFFICIENT` per
          identified coefficient;
        - **too few of the rarer verdict**: the expected number of judgments won (or
          lost, whichever is rarer: ``min(sum y, sum (1 - y))`` with soft labels) is
          below :data:`MIN_EVENTS_PER_COEFFICIENT` per effective coefficient (the
          events-per-variable rule of logistic regression);
        - **no variation** in a column of the model's own design (its slope is not
          identified by the model's data);
        - **separation**: the fit did not converge, or the judgments are separated (the
          linear-programming check of :func:`debias.model.separation.separating_direction`: the
          maximum-likelihood estimate does not exist; with a penalty only the strength may
          run off), or a fitted probability is 0 or 1 to double precision (``|log-odds| >``
          :data:`SEPARATION_LOGIT`), or the information matrix is near-singular
          (condition number above :data:`SEPARATION_CONDITION`); on the 46 AlpacaEval
          models' full data the largest |log-odds| is 12.3 and the largest condition
          number 260. An extreme but finite estimate (gpt4_gamed without regularisation:
          |log-odds| 20.4, condition number 628) is reported, with its interval.
        """
        X = self.design_matrix()
        n_coef = int((~self.fixed).sum()) if self.fixed.size else len(self.params)
        n = self.nobs
        need = MIN_JUDGMENTS_PER_COEFFICIENT * n_coef
        if n < need:
            return (
                f"too few judgments ({n} < {need}: {MIN_JUDGMENTS_PER_COEFFICIENT} per "
                f"coefficient, {n_coef} coefficients)"
            )
        k = round(self.effective_coefficients(), 1)
        wins, losses = float(np.sum(self.w * self.y)), float(np.sum(self.w * (1 - self.y)))
        need_ev = MIN_EVENTS_PER_COEFFICIENT * k
        if min(wins, losses) < need_ev:
            which = "wins" if wins <= losses else "losses"
            return (
                f"too few {which} ({min(wins, losses):.1f} expected among {n} judgments < "
                f"{need_ev:.1f}: {MIN_EVENTS_PER_COEFFICIENT:g} per effective coefficient, "
                f"{k:.1f} estimated from the model's data)"
            )
        for j, col in enumerate(self.columns[1:], start=1):
            if self.fixed.size and self.fixed[j]:
                continue
            v = X[:, j]
            if np.ptp(v) <= 1e-9 * (1 + np.max(np.abs(v))):
                return f"no variation in {col} among the model's judgments: slope not identified"
        if not self.converged and self.solver != "alpaca_eval":
            # (the reference's liblinear warnings may come from its cross-validation folds,
            # not the final fit: reported in the status, not taken as separation)
            return f"separated fit: the solver did not converge ({self.status or 'no status'})"
        free = ~self.fixed if self.fixed.size else np.ones(len(self.params), bool)
        if self.penalty or self.regularization:
            free = free & (np.arange(len(free)) == 0)  # penalised slopes stay finite
        d = separating_direction(X, self.y, self.w, free)
        if d is not None:
            moved = ", ".join(c for c, v in zip(self.columns, d, strict=True) if abs(v) > 1e-6)
            return (
                f"separated fit: the judgments are separated along {moved} (no finite "
                "maximum-likelihood estimate)"
            )
        eta = X @ self.params.to_numpy()
        if np.max(np.abs(eta)) > SEPARATION_LOGIT:
            return (
                f"separated fit: fitted probabilities at 0 or 1 (|log-odds| up to "
                f"{np.max(np.abs(eta)):.0f}, beyond what double precision resolves)"
            )
        p = expit(eta)
        H = (X * (self.w * p * (1 - p))[:, None]).T @ X
        free = ~self.fixed if self.fixed.size else np.ones(len(self.params), bool)
        cond = np.linalg.cond(H[np.ix_(free, free)])
        if not np.isfinite(cond) or cond > SEPARATION_CONDITION:
            return f"separated fit: information matrix near-singular (condition number {cond:.0e})"
        return None

    def effective_coefficients(self) -> float:
        """How many coefficients the model's own judgments estimate: ``tr(H^-1 H_own)``.

        ``H`` is the Hessian of the fit's objective (penalty and regularisation rows
        included), ``H_own`` the information of the model's own rows. Without a penalty
        this is the number of identified coefficients; a penalty or shared rows that pin
        a slope (partial pooling, the baseline's variants) lower it toward 1, the strength
        (the effective degrees of freedom of a penalised fit, Hastie & Tibshirani 1990).
        """
        X = self.design_matrix()
        p = expit(X @ self.params.to_numpy())
        own = (X * (self.w * p * (1 - p))[:, None]).T @ X
        free = ~self.fixed if self.fixed.size else np.ones(len(self.params), bool)
        k_free = int(free.sum())
        try:
            k = float(
                np.trace(np.linalg.solve(self.hessian[np.ix_(free, free)], own[np.ix_(free, free)]))
            )
        except np.linalg.LinAlgError:
            return float(k_free)
        return float(np.clip(k, 1.0, k_free)) if np.isfinite(k) else float(k_free)

    def influence(self) -> pd.DataFrame:
        """Per-instruction influence of the coefficients (what every sandwich here is built on).

        With a difficulty fitted from the same judgments (``difficulty="fit"``) this
        includes the estimation of γ (:mod:`debias.inference.two_stage`); otherwise it is
        :meth:`naive_influence`. All NaN (with one :class:`~debias.errors.FitWarning`)
        when Wald inference is not valid for this fit (:attr:`wald_problem`), so no
        sandwich number built on it is printed.
        """
        if self.wald_problem is not None:
            self._warn_wald()
            infl = self.naive_influence()
            return infl * np.nan
        if self.two_stage is not None:
            return self.two_stage(self.model)
        return self.naive_influence()

    def naive_influence(self) -> pd.DataFrame:
        """Per-instruction influence of the coefficients, ``H^-1 sum_{rows of x} score``,
        treating the difficulty as a known covariate.

        Returns
        -------
        pandas.DataFrame
            One row per instruction (index), one column per coefficient. The
            cluster-robust covariance is its cross-product; the covariance of two
            models' coefficients (they share instructions) is the cross-product of
            theirs.
        """
        infl = self.scores() @ self.bread().T
        codes, uniques = self.cluster_codes()
        return pd.DataFrame(
            sum_by_code(infl, codes, len(uniques)), index=uniques, columns=self.columns
        )

    def cov_params(self, kind: str = "cluster") -> pd.DataFrame:
        """Covariance of the coefficients.

        Parameters
        ----------
        kind : {"cluster", "model"}
            ``"cluster"``: sandwich, clustered by instruction, with the small-sample
            factor G/(G-1) (robust to soft labels and misspecification); ``"model"``:
            the inverse Hessian.
        """
        if kind == "model":
            cov = self.bread()
        elif kind == "cluster":
            infl = self.influence().to_numpy()
            cov = infl.T @ infl * cluster_factor(len(infl))
        else:
            raise ParameterError(
                f"The 'kind' parameter must be 'cluster' or 'model'. Got {kind!r} instead."
            )
        if self.fixed.size:
            cov[self.fixed, :] = np.nan
            cov[:, self.fixed] = np.nan
        return pd.DataFrame(cov, index=self.columns, columns=self.columns)

    @property
    def bse(self) -> pd.Series:
        """Cluster-robust standard errors of the coefficients (NaN where Wald is invalid)."""
        return pd.Series(np.sqrt(np.diag(self.cov_params().to_numpy())), index=self.columns)

    @property
    def tvalues(self) -> pd.Series:
        return self.params / self.bse

    @property
    def df_resid(self) -> int:
        """Degrees of freedom of the t reference distribution: clusters - 1."""
        return self.n_clusters - 1

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the Wald tests (null: coefficient = 0), t with G - 1 df."""
        df = self.df_resid
        if df < 1:
            return pd.Series(np.nan, index=self.columns)
        return pd.Series(2 * stdtr(df, -np.abs(self.tvalues.to_numpy())), index=self.columns)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Wald confidence intervals at ``level`` from the cluster-robust SEs.

        Critical value from Student's t with G - 1 degrees of freedom; intersected with
        the fit's bounds when it has (inactive) bounds; NaN where Wald is invalid.

        Returns
        -------
        pandas.DataFrame
            ``conf_low, conf_high``, one row per coefficient.
        """
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
            raise ParameterError(
                f"The 'level' parameter must be a float in (0, 1), e.g. 0.95. Got {level!r} instead."
            )
        z = critical_value(level, df=self.df_resid)
        se = self.bse
        lo, hi = self.params - z * se, self.params + z * se
        if self.lower is not None:
            lo = lo.clip(lower=pd.Series(np.asarray(self.lower, float), index=self.columns))
        if self.upper is not None:
            hi = hi.clip(upper=pd.Series(np.asarray(self.upper, float), index=self.columns))
        return pd.DataFrame({"conf_low": lo, "conf_high": hi})

    def summary(self, level: float = 0.95) -> Summary:
        """A coefficient table (renders as HTML in a notebook, as text in a terminal).

        The header states the solver and its convergence status, the penalty and its
        strength, the bounds and which coefficients sit on one, and how the standard
        errors were computed; where Wald inference is not valid the SE, z, p-value and
        interval columns are NaN and the header says why (:func:`~debias.model.summary.summarize`).
        """
        return summarize(self, level)
