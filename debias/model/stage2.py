"""Stage-2 wiring of the estimator: every model's fit against the baseline with the
difficulty frozen, by the chosen solver (:mod:`debias.model.solvers`), and its status."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from debias.errors import DataWarning, FitWarning, InputError, ParameterError
from debias.model.families import BINOMIAL_LOGIT
from debias.model.solvers.cvxpy import fit_cvxpy
from debias.model.solvers.newton import Problem, fit_newton


@dataclass
class Stage2Problem:
    """A fitted estimator's stage-2 problem, to refit every model's fit with other judgment
    weights or another design (the cluster bootstrap); picklable and light (no judgments'
    text, no results).

    Attributes
    ----------
    X : numpy.ndarray
        The design of every model's rows, stacked (n x k), difficulty filled in.
    y, weights : numpy.ndarray
        The soft labels P(model preferred) in [0, 1] and the judgments' weights (n).
    group : numpy.ndarray
        The row's model, an index into ``models`` (n).
    models : list of str
        The models with a stage-2 fit (not the baseline).
    shared_X, shared_rows : numpy.ndarray and pandas.DataFrame, or None
        The baseline's variant rows (the regularisation), when used.
    """

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    group: np.ndarray
    models: list[str]
    shared_X: np.ndarray | None
    shared_rows: pd.DataFrame | None
    solver: Any  # the estimator's stage-2 settings (a light copy of it)

    def refit(self, weights: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Every model's coefficients (len(models) x k) refitted with ``weights`` (n) and,
        if given, the design ``X`` (e.g. a refitted difficulty); same solver and
        regularisation as the fit."""
        X = self.X if X is None else X
        coef, *_ = self.solver._stage2(
            X, self.y, weights, self.group, self.models, self.shared_X, self.shared_rows
        )
        return coef


class Stage2Mixin:
    """The part of :class:`~debias.model.glm.PreferenceGLM` that runs the per-model fits."""

    def stage2_problem(self) -> Stage2Problem:
        """The fitted stage-2 problem (:class:`Stage2Problem`), to refit it (the bootstrap)."""
        X, y, w, group, names, Xr, reg_rows = self._stage2_data_
        return Stage2Problem(X, y, w, group, list(names), Xr, reg_rows, self._stage2_only())

    def _stage2(self, X, y, w, group, names, Xr, reg_rows):
        G, k = len(names), X.shape[1]
        self._stage2_status_ = None  # set per model by the cvxpy / reference branches
        if G == 0:
            return np.zeros((0, k)), np.zeros((0, k, k)), np.zeros(0, bool), np.zeros((0, k), bool)
        shared = (None, None, None)
        center = None
        mode_rows = Xr is not None and self.regularize_mode == "rows"
        if mode_rows:
            shared = (
                Xr,
                reg_rows["preference"].to_numpy(float),
                reg_rows["_weight"].to_numpy(float),
            )
        penalize = np.ones(k, bool)
        penalize[0] = False
        l2 = self.alpha if self.penalty == "l2" else 0.0
        if Xr is not None and self.regularize_mode == "penalty":
            center = self._variant_slopes(Xr, reg_rows)
            n_per = np.bincount(group, minlength=G).astype(float)
            l2 = None  # per-model strength below
            self._penalty_scale = self.lam_ * n_per
        self.pooling_ = None
        if getattr(self, "pool_", False) and Xr is None:
            # partial pooling: each slope ~ N(mu_j, tau_j^2) across the judge's models, mu and
            # tau estimated here (so a bootstrap replicate re-estimates them); penalty
            # (b_j - mu_j)^2 / (2 tau_j^2), i.e. l2_j = 1 / (2 tau_j^2) toward mu_j
            from debias.model.pooling import estimate_pooling

            self.pooling_ = estimate_pooling(Problem(X, y, w, group, G), penalize)
            if self.pooling_ is not None:
                l2 = self.pooling_.l2 * penalize
                center = self.pooling_.center
        if self.solver == "newton":
            if l2 is None:
                # explicit penalty toward the variants' slopes: lam * n_m * ||b - c||^2
                results = []
                for g in range(G):
                    sel = group == g
                    r = fit_newton(
                        Problem(X[sel], y[sel], w[sel], np.zeros(sel.sum(), int), 1),
                        l2=self._penalty_scale[g],
                        penalize=penalize,
                        center=center,
                        names=[names[g]],
                        columns=self.columns_,
                    )
                    results.append(r)
                coef = np.vstack([r.coef for r in results])
                hess = np.concatenate([r.hessian for r in results])
                conv = np.concatenate([r.converged for r in results])
                fixed = np.vstack([r.fixed for r in results])
                return coef, hess, conv, fixed
            res = fit_newton(
                Problem(X, y, w, group, G, *shared),
                l2=l2,
                penalize=penalize,
                center=center,
                names=names,
                columns=self.columns_,
            )
            return res.coef, res.hessian, res.converged, res.fixed
        coef = np.zeros((G, k))
        status = [""] * G  # the solver's own verdict per model (see _StatusRecorder)
        self._stage2_status_ = status
        it = range(G)
        if self.progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"fitting ({self.solver})", unit="model")
        for g in it:
            sel = group == g
            Xg, yg, wg = X[sel], y[sel], w[sel]
            if mode_rows:  # the reference puts the regularisation rows first
                Xg, yg, wg = np.vstack([shared[0], Xg]), np.r_[shared[1], yg], np.r_[shared[2], wg]
            if self.solver == "cvxpy":
                lo, hi = self._bounds_arrays(k)
                l2g = self._penalty_scale[g] if l2 is None else l2
                if np.ndim(l2g) == 2:  # per-model priors (pooling)
                    l2g = l2g[g]
                with _StatusRecorder(status, g, "cvxpy"):
                    coef[g] = fit_cvxpy(
                        Xg,
                        yg,
                        wg,
                        l1=self.alpha if self.penalty == "l1" else 0.0,
                        l2=l2g,
                        penalize=penalize,
                        center=center[g] if np.ndim(center) == 2 else center,
                        lower=lo,
                        upper=hi,
                        name=names[g],
                    )
            else:
                from debias.model.solvers.alpaca_eval import fit_alpaca_eval

                # rows without a preference (zero weight) leave the fit, as in the reference
                judged = w[sel] > 0
                n_judged = int(judged.sum())
                keep = np.r_[np.ones(len(Xg) - len(judged), bool), judged]
                Xg, yg, wg = Xg[keep], yg[keep], wg[keep]
                n_splits = min(5, n_judged)
                if n_splits < 2:
                    raise InputError(
                        f"Model {names[g]!r} has {n_judged} judgment(s): the reference's "
                        "cross-validation needs at least 2. Use the default solver."
                    )
                if n_splits < 5:
                    warnings.warn(
                        f"Model {names[g]!r} has only {n_judged} judgments: cross-validating "
                        f"with {n_splits} folds instead of the reference's 5 (where it crashes).",
                        DataWarning,
                        stacklevel=3,
                    )
                with _StatusRecorder(status, g, "liblinear"):
                    coef[g] = fit_alpaca_eval(
                        Xg,
                        yg,
                        wg,
                        columns=self.columns_,
                        n_splits=n_splits if not mode_rows else 5,
                        folds=self.compat_folds,
                    )
        # Hessians at the solution (bread of the sandwich), with regularisation rows.
        hess = np.zeros((G, k, k))
        for g in range(G):
            sel = group == g
            Xg, yg, wg = X[sel], y[sel], w[sel]
            if mode_rows:
                Xg, yg, wg = np.vstack([shared[0], Xg]), np.r_[shared[1], yg], np.r_[shared[2], wg]
            _, weight = BINOMIAL_LOGIT.derivatives(Xg @ coef[g], yg, wg)
            hess[g] = (Xg * weight[:, None]).T @ Xg
            if l2 is None:
                hess[g] += 2 * self._penalty_scale[g] * np.diag(penalize.astype(float))
            elif np.any(l2):
                hess[g] += np.diag(2 * (l2[g] if np.ndim(l2) == 2 else l2) * penalize)
        fixed = np.zeros((G, k), bool)
        shared_varies = np.any(shared[0] != 0, axis=0) if mode_rows else np.zeros(k, bool)
        for g in range(G):
            fixed[g] = np.all(X[group == g] == 0, axis=0) & ~shared_varies
        return coef, hess, np.array([not s.startswith("not converged") for s in status]), fixed

    def _stage2_only(self) -> Stage2Mixin:
        """A picklable copy with just what :meth:`_stage2` needs (:class:`Stage2Problem`)."""
        light = type(self).__new__(type(self))
        keep = (
            "regularize_mode",
            "alpha",
            "penalty",
            "solver",
            "bounds",
            "lam_",
            "columns_",
            "_penalty_scale",
            "compat_folds",
            "pool_",
        )
        light.__dict__.update({k: v for k, v in self.__dict__.items() if k in keep})
        light.progress = False
        return light

    def _solver_status(self, g: int, converged: bool) -> str:
        """Model g's convergence status in words (for ModelResults.summary)."""
        recorded = getattr(self, "_stage2_status_", None)
        if recorded is not None and recorded[g]:
            return recorded[g]
        if self.solver == "newton":
            return "converged" if converged else "not converged: Newton step limit reached"
        return "converged"

    def _bounds_arrays(self, k):
        lo, hi = np.full(k, -np.inf), np.full(k, np.inf)
        for name, (a, b) in (self.bounds or {}).items():
            if name not in self.columns_:
                raise ParameterError(
                    f"bounds names {name!r}, which is not a coefficient; coefficients: {self.columns_}."
                )
            j = self.columns_.index(name)
            lo[j] = -np.inf if a is None else a
            hi[j] = np.inf if b is None else b
        return lo, hi


OK_STATUS = {
    "cvxpy": "cvxpy: status optimal",
    "liblinear": "liblinear: no convergence warning",
}


class _StatusRecorder:
    """Record a solver's convergence warnings as model g's status (and still show them).

    cvxpy's "inaccurate" solution and scikit-learn's ConvergenceWarning (liblinear, in
    the reference's procedure) become ``"not converged: ..."``; otherwise ``"<solver>:
    converged"``.
    """

    def __init__(self, status: list, g: int, solver: str):
        self.status, self.g, self.solver = status, g, solver

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self._caught = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        bad = [
            w
            for w in self._caught
            if type(w.message).__name__ == "ConvergenceWarning"
            or (issubclass(w.category, FitWarning) and "inaccurate" in str(w.message))
        ]
        if bad:
            first = str(bad[0].message).splitlines()[0][:120]
            self.status[self.g] = f"not converged: {self.solver} warned {len(bad)}x ({first})"
        else:
            self.status[self.g] = OK_STATUS.get(self.solver, f"{self.solver}: converged")
        for w in self._caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False
