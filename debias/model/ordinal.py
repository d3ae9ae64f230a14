"""The cumulative-logit family for ordered verdicts and grades: :func:`fit_ordinal`.

For an ordered outcome with levels ``1 < 2 < ... < K`` and covariates ``x``::

    P(Y <= k | x) = logistic(theta_k - x @ beta),   k = 1 .. K-1,   theta_1 < ... < theta_{K-1}

(the proportional-odds model; statsmodels' ``OrderedModel(distr="logit")``, R's ``MASS::polr``).
There is no intercept: the cut points ``theta`` play its part, so ``x`` must not contain a
constant column. A larger ``x @ beta`` moves the outcome to higher levels.

Estimation
----------
The free parameters are ``beta``, ``theta_1`` and the increments ``theta_k - theta_{k-1}``
(kept positive, so the cut points stay increasing). The log-likelihood is concave in them
(a linear map of ``(beta, theta)``, where it is concave: Pratt 1981), so Newton's method with
the exact Hessian and step halving (never leaving the increasing region, never lowering the
likelihood) converges to the maximum when it exists. Weights multiply each row's
log-likelihood.

Uncertainty is the cluster-robust sandwich ``H^-1 B H^-1 G/(G-1)``, ``B`` the outer product of
per-cluster scores (clusters: prompts; each row its own cluster when none are given).

When the maximum does not exist
-------------------------------
- A level nobody used: its cut points are not identified (the maximum sits on the boundary
  ``theta_k = theta_{k+1}``). The fit uses the observed levels and says which were empty;
  predicted probabilities of an empty level are 0.
- Separation: a direction along which the likelihood rises for ever (e.g. one model's answers
  all at the top grade). It is found exactly, by the linear programme of
  :func:`debias.model.separation.separating_direction` on the stacked binary events
  ``Y > k``; the coefficients that run off are reported missing with the reason, their rows
  set aside, and the rest refitted.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(400, 1))
>>> latent = 1.0 * x[:, 0] + rng.logistic(size=400)
>>> y = np.digitize(latent, [-1.0, 0.5])          # three levels 0, 1, 2
>>> fit = fit_ordinal(x, y, names=["x"])
>>> fit.table()[["term", "estimate"]].round(1)
  term  estimate
0    x       1.2
1  0|1      -1.1
2  1|2       0.6
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from debias.errors import FitWarning, InputError, ParameterError
from debias.inference.cluster import cluster_factor, critical_value
from debias.model.separation import separating_direction

TABLE_COLUMNS = ("term", "estimate", "std_error", "conf_low", "conf_high", "note")


@dataclass(frozen=True)
class OrdinalFit:
    """A fitted cumulative-logit model (see the module docstring).

    Attributes
    ----------
    names : tuple of str
        Covariate names (one per column of ``X``).
    levels : tuple
        The declared levels, lowest first.
    observed : ndarray of bool
        Which declared levels occur in the fitted rows.
    coef : ndarray
        ``beta`` (NaN where not supported: see ``problems``).
    thresholds : ndarray
        Cut points between consecutive observed levels.
    cov : ndarray
        Cluster-robust covariance of the fitted parameters ``(beta[fitted], thresholds)``.
    cov_model : ndarray
        Model-based covariance (inverse Hessian) of the same parameters.
    fitted : ndarray of bool
        Which coefficients were estimated (False: separated, set aside).
    loglik : float
    n_iter : int
    converged : bool
    n : int
        Rows used (positive weight, not set aside).
    n_clusters : int
    problems : dict
        Term or ``"levels"`` / ``"fit"`` -> why a number is missing or doubtful.
    influence : ndarray
        Per-cluster influence of the fitted parameters, shape ``(n_clusters, len(param_names))``:
        ``influence.T @ influence * G/(G-1) == cov``; stack it with other estimates' influences
        for the covariance of a difference.
    clusters : ndarray
        The cluster label of each row of ``influence``.
    """

    names: tuple[str, ...]
    levels: tuple
    observed: np.ndarray
    coef: np.ndarray
    thresholds: np.ndarray
    cov: np.ndarray
    cov_model: np.ndarray
    fitted: np.ndarray
    loglik: float
    n_iter: int
    converged: bool
    n: int
    n_clusters: int
    problems: dict = field(default_factory=dict)
    influence: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    clusters: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def threshold_names(self) -> list[str]:
        """``"a|b"`` for each cut between consecutive observed levels."""
        obs = [lev for lev, o in zip(self.levels, self.observed, strict=True) if o]
        return [f"{lo}|{hi}" for lo, hi in zip(obs[:-1], obs[1:], strict=False)]

    @property
    def param_names(self) -> list[str]:
        """Names of the fitted parameters, in the order of ``cov``."""
        return [n for n, f in zip(self.names, self.fitted, strict=True) if f] + self.threshold_names

    @property
    def usable(self) -> bool:
        """Whether the fit has estimates with valid Wald intervals."""
        return self.converged and "fit" not in self.problems

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """Coefficients then cut points: ``term, estimate, std_error, conf_low, conf_high, note``.

        Intervals use Student's t with ``n_clusters - 1`` degrees of freedom.
        """
        z = critical_value(level, df=self.n_clusters - 1)
        k_fit = int(self.fitted.sum())
        se_fit = np.full(k_fit + len(self.thresholds), np.nan)
        if self.cov.size:
            se_fit = np.sqrt(np.clip(np.diag(self.cov), 0, None))
        rows = []
        j = 0
        for name, est, fitted in zip(self.names, self.coef, self.fitted, strict=True):
            se = se_fit[j] if fitted else np.nan
            j += int(fitted)
            rows.append((name, est, se, self.problems.get(name, self.problems.get("fit", ""))))
        for i, name in enumerate(self.threshold_names):
            rows.append((name, self.thresholds[i], se_fit[k_fit + i], self.problems.get("fit", "")))
        out = []
        for name, est, se, note in rows:
            ok = self.usable and np.isfinite(est) and np.isfinite(se) and se > 1e-12
            se = se if ok else np.nan
            out.append((name, est, se, est - z * se, est + z * se, note))
        return pd.DataFrame(out, columns=list(TABLE_COLUMNS))

    def predict_proba(
        self, X: np.ndarray, *, jacobian: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """P(Y = level | x) for each declared level, shape ``(n, len(levels))``.

        Rows that need a coefficient set aside (separation) are NaN. With
        ``jacobian=True`` also the derivative of each probability with respect to the
        fitted parameters, shape ``(n, len(levels), len(param_names))``, for the
        delta method with ``cov``.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != len(self.names):
            raise ParameterError(
                f"predict_proba: X needs {len(self.names)} columns ({list(self.names)}); "
                f"got {X.shape[1]}."
            )
        beta = self.coef[self.fitted]
        Xf = X[:, self.fitted]
        eta = Xf @ beta
        unsupported = (X[:, ~self.fitted] != 0).any(axis=1)
        cuts = self.thresholds[None, :] - eta[:, None]  # (n, K_obs - 1)
        cum = np.column_stack([np.zeros(len(X)), expit(cuts), np.ones(len(X))])
        p_obs = np.diff(cum, axis=1)
        proba = np.zeros((len(X), len(self.levels)))
        proba[:, self.observed] = p_obs
        proba[unsupported] = np.nan
        if not jacobian:
            return proba
        k, m = Xf.shape[1], len(self.thresholds)
        dens = expit(cuts) * expit(-cuts)  # (n, m)
        # d C_c / d(beta, theta) = dens_c * [-x, e_c]
        d_cum = np.zeros((len(X), m + 2, k + m))
        d_cum[:, 1:-1, :k] = -dens[:, :, None] * Xf[:, None, :]
        d_cum[:, 1:-1, k:] = dens[:, :, None] * np.eye(m)[None, :, :]
        d_obs = np.diff(d_cum, axis=1)
        jac = np.zeros((len(X), len(self.levels), k + m))
        jac[:, self.observed, :] = d_obs
        jac[unsupported] = np.nan
        return proba, jac


# --------------------------------------------------------------------------- fitting
def fit_ordinal(
    X,
    y,
    *,
    weights=None,
    cluster=None,
    names: Sequence[str] | None = None,
    levels: Sequence | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> OrdinalFit:
    """Fit the cumulative logit ``P(Y <= k) = logistic(theta_k - X @ beta)``.

    Parameters
    ----------
    X : array-like, shape (n, k)
        Covariates, no constant column (the cut points are the intercepts).
    y : array-like, shape (n,)
        Outcomes, each one of ``levels``.
    weights : array-like, optional
        Non-negative row weights (1 by default); rows of weight 0 are ignored.
    cluster : array-like, optional
        Cluster labels for the sandwich (e.g. the prompt); each row its own by default.
    names : sequence of str, optional
        Covariate names (``x0, x1, ...`` by default).
    levels : sequence, optional
        All levels of the scale, lowest first (default: the sorted distinct values of ``y``).
        A declared level nobody used is reported, not guessed.
    tol : float
        Newton decrement at which to stop.
    max_iter : int

    Returns
    -------
    OrdinalFit

    Raises
    ------
    InputError
        ``y`` off the declared levels, non-finite covariates, negative weights.
    ParameterError
        Shapes that disagree; covariates collinear with each other or the cut points.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y)
    n, k = X.shape
    names = tuple(f"x{i}" for i in range(k)) if names is None else tuple(map(str, names))
    if len(names) != k or y.shape != (n,):
        raise ParameterError(
            f"fit_ordinal: X has {n} rows and {k} columns, y {y.shape[0] if y.ndim else 0} "
            f"values and names= {len(names)}; they must agree."
        )
    if not np.isfinite(X).all():
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise InputError(f"fit_ordinal: covariates not finite in row(s) {bad[:5].tolist()}.")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or not (np.isfinite(w).all() and (w >= 0).all()):
        raise InputError("fit_ordinal: weights= must be n finite non-negative numbers.")
    levels = tuple(np.unique(y).tolist()) if levels is None else tuple(levels)
    lookup = {v: i for i, v in enumerate(levels)}
    codes = np.array([lookup.get(v, -1) for v in y.tolist()], dtype=np.int64)
    if (codes < 0).any():
        bad = np.flatnonzero(codes < 0)
        raise InputError(
            f"fit_ordinal: y value {y[bad[0]]!r} (row {bad[0]}) is not one of levels= "
            f"{list(levels)}; declare the scale's levels."
        )
    groups = np.arange(n) if cluster is None else pd.factorize(np.asarray(cluster))[0]
    if groups.shape != (n,):
        raise ParameterError("fit_ordinal: cluster= needs one label per row.")

    problems: dict[str, str] = {}
    keep = w > 0
    fitted = np.ones(k, bool)
    for _ in range(k + 1):  # set separated coefficients aside until none is left
        direction = _separation(X[keep][:, fitted], codes[keep], w[keep], len(levels))
        if direction is None:
            break
        cols = np.flatnonzero(fitted)[np.abs(direction[: int(fitted.sum())]) > 1e-7]
        for c in cols:
            problems[names[c]] = (
                "not estimable: separation (its rows all sit at one end of the scale "
                "given the other terms), the estimate runs off to infinity"
            )
        keep &= ~(X[:, cols] != 0).any(axis=1)
        fitted[cols] = False
    observed = np.zeros(len(levels), bool)
    observed[np.unique(codes[keep])] = True
    empty = [levels[i] for i in np.flatnonzero(~observed)]
    if empty:
        problems["levels"] = (
            f"no observation at level(s) {empty}: their cut points are not identified "
            "(fitted on the observed levels; predicted probability 0)"
        )
    n_clusters = len(np.unique(groups[keep]))
    if observed.sum() < 2:
        return _missing(names, levels, observed, fitted, problems, int(keep.sum()), n_clusters)
    _check_rank(X[keep][:, fitted], [names[i] for i in np.flatnonzero(fitted)])
    obs_index = np.cumsum(observed) - 1  # declared level -> observed level
    sub_codes = obs_index[codes[keep]]
    Xk, wk = X[keep][:, fitted], w[keep]
    phi, n_iter, converged, loglik = _newton(Xk, sub_codes, wk, int(observed.sum()), tol, max_iter)
    kf = Xk.shape[1]
    m = int(observed.sum()) - 1
    L = np.tril(np.ones((m, m)))
    _, grad_rows, hess = _derivatives(phi, Xk, sub_codes, wk, m, L, need_rows=True)
    J = np.eye(kf + m)
    J[kf:, kf:] = L
    cov_model, cov, influence, labels = _covariances(hess, grad_rows, groups[keep], J)
    if not converged:
        problems["fit"] = f"Newton did not converge in {max_iter} iterations: estimates doubtful"
        warnings.warn(f"fit_ordinal: {problems['fit']}.", FitWarning, stacklevel=2)
    if not np.isfinite(cov).all() or np.linalg.cond(hess) > 1e12:
        problems["fit"] = "the Hessian is (nearly) singular: no valid Wald intervals"
        warnings.warn(f"fit_ordinal: {problems['fit']}.", FitWarning, stacklevel=2)
    coef = np.full(k, np.nan)
    coef[fitted] = phi[:kf]
    return OrdinalFit(
        names=names,
        levels=levels,
        observed=observed,
        coef=coef,
        thresholds=L @ phi[kf:],
        cov=cov,
        cov_model=cov_model,
        fitted=fitted,
        loglik=loglik,
        n_iter=n_iter,
        converged=converged,
        n=int(keep.sum()),
        n_clusters=n_clusters,
        problems=problems,
        influence=influence,
        clusters=(np.arange(n) if cluster is None else np.asarray(cluster))[keep][labels],
    )


def _missing(names, levels, observed, fitted, problems, n, n_clusters) -> OrdinalFit:
    problems = {**problems, "fit": "fewer than two levels observed: nothing to estimate"}
    m = max(int(observed.sum()) - 1, 0)
    return OrdinalFit(
        names, levels, observed, np.full(len(names), np.nan), np.full(m, np.nan),
        np.full((0, 0), np.nan), np.full((0, 0), np.nan), np.zeros(len(names), bool),
        np.nan, 0, False, n, n_clusters, problems,
    )  # fmt: skip


def _check_rank(X: np.ndarray, names: list[str]) -> None:
    with_const = np.column_stack([np.ones(len(X)), X])
    if np.linalg.matrix_rank(with_const) < with_const.shape[1]:
        raise ParameterError(
            f"fit_ordinal: the covariates {names} are collinear with each other or with a "
            "constant (the cut points are the intercepts): drop a constant column or one level "
            "of each factor."
        )


def _separation(X, codes, w, n_levels) -> np.ndarray | None:
    """A direction of separation in ``(beta, theta)`` for the stacked events ``Y > k``."""
    present = np.unique(codes)
    if len(present) < 2 or X.shape[1] == 0:
        return None
    pos = np.searchsorted(present, codes)  # observed level index
    m = len(present) - 1
    up = pos < m  # event Y > pos is false
    lo = pos > 0  # event Y > pos-1 is true
    rows = np.concatenate([np.flatnonzero(up), np.flatnonzero(lo)])
    cut = np.concatenate([pos[up], pos[lo] - 1])
    label = np.concatenate([np.zeros(up.sum()), np.ones(lo.sum())])
    design = np.column_stack([X[rows], -np.eye(m)[cut]])
    return separating_direction(design, label, w[rows])


def _log_prob(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(F(a) - F(b)) for a > b, F the logistic CDF, stable in both tails."""
    upper = b >= 0
    lo_tail = log_expit(a) + np.log1p(-np.exp(log_expit(b) - log_expit(a)))
    hi_tail = log_expit(-b) + np.log1p(-np.exp(log_expit(-a) - log_expit(-b)))
    return np.where(upper, hi_tail, lo_tail)


def _derivatives(phi, X, codes, w, m, L, need_rows=False):
    """Log-likelihood, its per-row scores (optional) and the negative Hessian in ``phi``."""
    k = X.shape[1]
    beta, theta = phi[:k], L @ phi[k:]
    eta = X @ beta
    ext = np.concatenate([[-np.inf], theta, [np.inf]])
    with np.errstate(invalid="ignore", divide="ignore"):
        a = ext[codes + 1] - eta
        b = ext[codes] - eta
        logp = _log_prob(a, b)
        g_a = np.exp(log_expit(a) + log_expit(-a) - logp)
        g_b = -np.exp(log_expit(b) + log_expit(-b) - logp)
    g_a = np.where(np.isfinite(a), g_a, 0.0)
    g_b = np.where(np.isfinite(b), g_b, 0.0)
    h_aa = g_a * (1 - 2 * expit(a)) - g_a**2
    h_bb = g_b * (1 - 2 * expit(b)) - g_b**2
    h_ab = -g_a * g_b
    Lz = np.vstack([L, np.zeros((1, m))])  # row m = no cut (upper of the top level)
    Lb = np.vstack([np.zeros((1, m)), L])  # row 0 = no cut (lower of the bottom level)
    Za = np.column_stack([-X, Lz[codes]])
    Zb = np.column_stack([-X, Lb[codes]])
    loglik = float(w @ logp)
    rows = (w * g_a)[:, None] * Za + (w * g_b)[:, None] * Zb if need_rows else None
    cross = (Za * (w * h_ab)[:, None]).T @ Zb
    hess = -(
        (Za * (w * h_aa)[:, None]).T @ Za + (Zb * (w * h_bb)[:, None]).T @ Zb + cross + cross.T
    )
    grad = Za.T @ (w * g_a) + Zb.T @ (w * g_b)
    return loglik, (grad if rows is None else rows), hess


def _newton(X, codes, w, n_obs_levels, tol, max_iter):
    m = n_obs_levels - 1
    k = X.shape[1]
    L = np.tril(np.ones((m, m)))
    share = np.bincount(codes, weights=w, minlength=m + 1) / w.sum()
    cum = np.clip(np.cumsum(share)[:m], 1e-6, 1 - 1e-6)
    theta0 = np.log(cum / (1 - cum))
    theta0 = np.maximum.accumulate(theta0 + 1e-6 * np.arange(m))
    phi = np.concatenate([np.zeros(k), theta0[:1], np.diff(theta0)])
    loglik, grad, hess = _derivatives(phi, X, codes, w, m, L)
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        decrement = float(grad @ step)
        if not np.isfinite(decrement):
            return phi, it, False, loglik
        if decrement / 2 < tol:
            return phi, it, True, loglik
        t = 1.0
        for _ in range(60):
            new = phi + t * step
            if (new[k + 1 :] > 0).all():
                new_ll, new_grad, new_hess = _derivatives(new, X, codes, w, m, L)
                if np.isfinite(new_ll) and new_ll >= loglik - 1e-12 * abs(loglik):
                    break
            t /= 2
        else:
            return phi, it, False, loglik
        phi, loglik, grad, hess = new, new_ll, new_grad, new_hess
    return phi, max_iter, False, loglik


def _covariances(hess, rows, groups, J):
    """Model-based and cluster-robust covariances and per-cluster influences in ``(beta, theta)``."""
    codes, uniq = pd.factorize(groups)
    first = np.unique(codes, return_index=True)[1]  # a row of each cluster, for its label
    try:
        inv = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        nan = np.full(hess.shape, np.nan)
        return nan, nan, np.full((len(uniq), hess.shape[0]), np.nan), first
    per_cluster = np.zeros((len(uniq), rows.shape[1]))
    np.add.at(per_cluster, codes, rows)
    influence = per_cluster @ inv @ J.T
    robust = influence.T @ influence * cluster_factor(len(uniq))
    return J @ inv @ J.T, robust, influence, first
