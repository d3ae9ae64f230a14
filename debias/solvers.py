"""Stage-2 engines: per-model soft-label logistic fits with the difficulty frozen.

Every engine minimises, for each model ``g`` separately,

    sum_i w_i * [log(1 + exp(x_i b_g)) - y_i * x_i b_g]  +  penalty(b_g)

over the model's own rows plus optional *shared rows* (the baseline's own gamed
variants, added to every model with their own weights). ``y`` is the soft label
P(model preferred) in [0, 1]; the cross-entropy against a continuous target is the
reference's "duplicate each row with weights p and 1 - p" trick without the copies.

- :func:`fit_newton` fits all models at once (batched Newton with step halving);
  it handles no penalty and L2 penalties. The default engine.
- :func:`fit_cvxpy` fits one model with any mix of L1/L2 penalties (toward chosen
  centres) and sign constraints.
- :func:`fit_alpaca_eval` is the reference's exact procedure (L1, C chosen by
  grouped 5-fold CV on a soft-label log loss, liblinear).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from threadpoolctl import threadpool_limits

from debias.errors import FitWarning, ParameterError
from debias.separation import NEAR_SEPARATION


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow."""
    return np.logaddexp(0.0, x)


@dataclass
class Problem:
    """A batch of per-model logistic problems sharing one column layout.

    Attributes
    ----------
    X : ndarray, shape (n, k)
        Design rows of all models.
    y, w : ndarray, shape (n,)
        Soft labels in [0, 1] and weights (>= 0).
    group : ndarray of int, shape (n,)
        Model code of each row, in ``range(n_groups)``.
    n_groups : int
    shared_X, shared_y, shared_w : ndarray or None
        Rows added to every model's problem (regularisation rows).
    """

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    group: np.ndarray
    n_groups: int
    shared_X: np.ndarray | None = None
    shared_y: np.ndarray | None = None
    shared_w: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        self.w = np.asarray(self.w, dtype=float)
        self.group = np.asarray(self.group, dtype=np.intp)
        n, k = self.X.shape
        if not (len(self.y) == len(self.w) == len(self.group) == n):
            raise ParameterError("X, y, w and group must have the same number of rows.")
        if self.shared_X is not None:
            self.shared_X = np.ascontiguousarray(self.shared_X, dtype=float)
            self.shared_y = np.asarray(self.shared_y, dtype=float)
            self.shared_w = np.asarray(self.shared_w, dtype=float)
        self._S = sp.csr_matrix((np.ones(n), (self.group, np.arange(n))), shape=(self.n_groups, n))

    @property
    def k(self) -> int:
        return self.X.shape[1]

    def rows_of(self, g: int) -> np.ndarray:
        """Indices of model ``g``'s own rows."""
        return np.flatnonzero(self.group == g)

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per model of per-row values (1-D or 2-D), shape (n_groups, ...)."""
        out = self._S @ values.reshape(len(values), -1)
        return np.asarray(out).reshape((self.n_groups, *values.shape[1:]))


@dataclass
class NewtonResult:
    """Output of :func:`fit_newton`: one row per model."""

    coef: np.ndarray  # (G, k)
    hessian: np.ndarray  # (G, k, k) of the penalised objective
    converged: np.ndarray  # (G,)
    n_iter: np.ndarray  # (G,)
    objective: np.ndarray  # (G,)
    fixed: np.ndarray  # (G, k) bool: coefficient not identified, held at its centre


def _penalty_terms(B, l2, mask, center):
    diff = (B - center) * mask
    return np.sum(l2 * diff**2, axis=1), 2 * l2 * diff


def _penalty_strengths(l2, shape: tuple[int, int]) -> np.ndarray:
    """``l2`` (a float, or one per coefficient ``(k,)``, per model ``(G, 1)`` or ``(G, k)``)
    as a checked ``(G, k)`` array."""
    try:
        out = np.broadcast_to(np.asarray(l2, dtype=float), shape)
    except ValueError:
        raise ParameterError(
            f"The 'l2' parameter must be a float or an array broadcastable to {shape}. "
            f"Got shape {np.shape(l2)} instead."
        ) from None
    if not np.all(np.isfinite(out)) or (out < 0).any():
        raise ParameterError(f"The 'l2' parameter must be in [0, inf). Got {l2!r} instead.")
    return out


def fit_newton(problem: Problem, **kwargs) -> NewtonResult:
    """Fit every model's logistic problem at once (see :func:`_fit_newton`); BLAS single-threaded
    (small dense blocks gain nothing from threads and contend on a busy machine)."""
    with threadpool_limits(limits=1):
        return _fit_newton(problem, **kwargs)


def _fit_newton(
    problem: Problem,
    *,
    l2: float | np.ndarray = 0.0,
    penalize: np.ndarray | None = None,
    center: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    names: list[str] | None = None,
    columns: list[str] | None = None,
) -> NewtonResult:
    """Fit every model's logistic problem at once by batched Newton steps.

    Parameters
    ----------
    problem : Problem
    l2 : float or ndarray
        Penalty ``sum_j l2_j * penalize_j * (b_j - center_j)**2`` added to each model: one
        strength for all, or one per coefficient ``(k,)``, per model ``(G, 1)`` or both
        ``(G, k)`` (e.g. the partial-pooling penalty ``1 / (2 tau_j**2)``,
        :mod:`debias.pooling`).
    penalize : ndarray of bool, shape (k,), optional
        Which coefficients the L2 penalty applies to (default: all but the first).
    center : ndarray, shape (k,) or (G, k), optional
        Where the penalty pulls the coefficients (default 0).
    tol : float
        Stop a model when its largest Newton step is below ``tol * (1 + |b|)``.
    max_iter : int
    names, columns : list of str, optional
        Model and coefficient names, used in warnings.

    Returns
    -------
    NewtonResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(400), rng.normal(size=400)])
    >>> y = expit(X @ [0.5, 1.0] + rng.logistic(size=400) * 0) > rng.random(400)
    >>> res = fit_newton(Problem(X, y.astype(float), np.ones(400), np.zeros(400, int), 1))
    >>> bool(res.converged[0])
    True
    """
    G, k = problem.n_groups, problem.k
    l2 = _penalty_strengths(l2, (G, k))
    mask = np.ones(k) if penalize is None else np.asarray(penalize, dtype=float)
    if penalize is None:
        mask[0] = 0.0
    centre = np.zeros((G, k)) if center is None else np.broadcast_to(center, (G, k)).astype(float)
    X, y, w, grp = problem.X, problem.y, problem.w, problem.group
    XX = (X[:, :, None] * X[:, None, :]).reshape(len(X), k * k)
    if problem.shared_X is not None:
        Xs_ = problem.shared_X
        XXs = (Xs_[:, :, None] * Xs_[:, None, :]).reshape(len(Xs_), k * k)

    # A coefficient whose column is zero on every weighted row of a model is not identified:
    # hold it at its centre (and report it) instead of inverting a singular Hessian.
    col_mass = problem.group_sum(np.abs(X) * (w > 0)[:, None])
    if problem.shared_X is not None:
        col_mass = col_mass + (np.abs(problem.shared_X) * (problem.shared_w > 0)[:, None]).sum(0)
    fixed = (col_mass <= 1e-12) & (mask * l2 == 0)
    B = np.where(fixed, centre, 0.0)
    free = (~fixed).astype(float)

    def objective_grad_hess(B, want_derivs=True):
        eta = np.einsum("ij,ij->i", X, B[grp])
        p = expit(eta)
        f = problem.group_sum(w * (softplus(eta) - y * eta))
        pen_f, pen_g = _penalty_terms(B, l2, mask, centre)
        f = f + pen_f
        if problem.shared_X is not None:
            eta_s = problem.shared_X @ B.T  # (ns, G)
            ws, ys = problem.shared_w[:, None], problem.shared_y[:, None]
            f = f + np.sum(ws * (softplus(eta_s) - ys * eta_s), axis=0)
        if not want_derivs:
            return f, None, None
        g = problem.group_sum((w * (p - y))[:, None] * X) + pen_g
        H = problem.group_sum((w * p * (1 - p))[:, None] * XX).reshape(G, k, k)
        H += 2 * (l2 * mask)[:, :, None] * np.eye(k)[None]
        if problem.shared_X is not None:
            ps = expit(eta_s)
            g += ((ws * (ps - ys)).T) @ problem.shared_X
            H += ((ws * ps * (1 - ps)).T @ XXs).reshape(G, k, k)
        return f, g, H

    def regularised(H):
        # pin not-identified coefficients: unit diagonal, no coupling
        Hr = H * free[:, :, None] * free[:, None, :]
        idx = np.arange(k)
        Hr[:, idx, idx] += 1.0 - free
        return Hr

    converged = np.zeros(G, dtype=bool)
    n_iter = np.zeros(G, dtype=int)
    f, g, H = objective_grad_hess(B)
    for it in range(1, max_iter + 1):
        active = ~converged
        if not active.any():
            break
        Hr = regularised(H)
        try:
            step = np.linalg.solve(Hr, (g * free)[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.einsum("gkl,gl->gk", np.linalg.pinv(Hr), g * free)
        step[~active] = 0.0
        t = np.ones(G)
        # the full step is almost always accepted: evaluate derivatives with it, and only
        # halve (objective alone) for the models whose objective went up
        B_new = B - step
        f_new, g_new, H_new = objective_grad_hess(B_new)
        worse = active & ~(f_new <= f + 1e-12 * np.abs(f))
        if worse.any():
            for _ in range(40):
                t = np.where(worse, t / 2, t)
                B_new = B - t[:, None] * step
                f_new, _, _ = objective_grad_hess(B_new, want_derivs=False)
                worse = active & ~(f_new <= f + 1e-12 * np.abs(f)) & (t > 1e-10)
                if not worse.any():
                    break
            f_new, g_new, H_new = objective_grad_hess(B_new)
        B, f, g, H = B_new, f_new, g_new, H_new
        n_iter[active] = it
        small = np.max(np.abs(t[:, None] * step), axis=1) <= tol * (1 + np.max(np.abs(B), axis=1))
        converged |= active & small
    names = names or [str(i) for i in range(G)]
    if not converged.all():
        bad = [names[i] for i in np.flatnonzero(~converged)]
        warnings.warn(
            f"The fit did not converge in {max_iter} Newton steps for {len(bad)} model(s): "
            f"{', '.join(bad[:5])}. Their coefficients may be unreliable; check for separation "
            "(a model that always wins or always loses) or add an L2 penalty.",
            FitWarning,
            stacklevel=2,
        )
    big = np.abs(B) > NEAR_SEPARATION
    if big.any():
        cols = columns or [str(j) for j in range(k)]
        gi, kj = np.nonzero(big)
        shown = ", ".join(
            f"{names[a]}:{cols[b]}={B[a, b]:.1f}" for a, b in list(zip(gi, kj, strict=True))[:5]
        )
        warnings.warn(
            f"Very large coefficients ({shown}): the data are (nearly) separated, so the fit is "
            "doubtful. Consider an L2 penalty (penalty='l2') or more judgments.",
            FitWarning,
            stacklevel=2,
        )
    return NewtonResult(B, regularised(H), converged, n_iter, f, fixed)


def fit_cvxpy(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    l1: float = 0.0,
    l2: float = 0.0,
    penalize: np.ndarray | None = None,
    center: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    solver: str | None = None,
    name: str = "model",
    polish: bool = True,
) -> np.ndarray:
    """Fit one model's penalised, constrained soft-label logistic problem with cvxpy.

    Minimises ``sum w * (logistic(X b) - y * X b) + l1 * ||m * (b - c)||_1
    + l2 * ||m * (b - c)||_2^2`` subject to ``lower <= b <= upper``.

    Parameters
    ----------
    X, y, w : ndarray
        Rows of the model's problem (include any regularisation rows here).
    l1 : float
        L1 penalty strength (>= 0).
    l2 : float or ndarray
        L2 penalty strength (>= 0), one for all or one per coefficient ``(k,)``.
    penalize : ndarray of bool, optional
        Which coefficients are penalised (default: all but the first, the strength).
    center : ndarray, optional
        Penalty centres (default 0): a non-zero centre pulls the slopes toward, say,
        the judge's own slopes on the baseline's variants.
    lower, upper : ndarray, optional
        Bounds per coefficient (``-inf``/``inf`` for none); sign constraints are
        ``lower=0`` or ``upper=0``.
    solver : str, optional
        A cvxpy solver name (default: CLARABEL).
    polish : bool, default True
        Refine the conic solution by Newton steps on its active set.

    Returns
    -------
    ndarray, shape (k,)
        The solution, polished by Newton steps on its active set (see :func:`_polish`):
        Clarabel's exponential-cone solution alone is accurate to ~5e-6.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([np.ones(300), rng.normal(size=300)])
    >>> y = (rng.random(300) < expit(X @ [0.2, -0.8])).astype(float)
    >>> b = fit_cvxpy(X, y, np.ones(300), upper=np.array([np.inf, 0.0]))
    >>> bool(b[1] <= 1e-8)
    True
    """
    import cvxpy as cp

    X = np.asarray(X, dtype=float)
    n, k = X.shape
    if l1 < 0:
        raise ParameterError(f"The 'l1' parameter must be a float in [0, inf). Got {l1!r} instead.")
    l2 = _penalty_strengths(l2, (1, k))[0]
    mask = np.ones(k) if penalize is None else np.asarray(penalize, dtype=float)
    if penalize is None:
        mask[0] = 0.0
    c = np.zeros(k) if center is None else np.asarray(center, dtype=float)
    b = cp.Variable(k)
    eta = X @ b
    w = np.asarray(w, dtype=float)
    loss = cp.sum(cp.multiply(w, cp.logistic(eta))) - (w * np.asarray(y, dtype=float)) @ eta
    obj = loss
    if l1:
        obj = obj + l1 * cp.norm1(cp.multiply(mask, b - c))
    if l2.any():
        obj = obj + cp.sum(cp.multiply(l2 * mask**2, cp.square(b - c)))
    cons = []
    if lower is not None:
        lo = np.asarray(lower, dtype=float)
        idx = np.flatnonzero(np.isfinite(lo))
        if idx.size:
            cons.append(b[idx] >= lo[idx])
    if upper is not None:
        hi = np.asarray(upper, dtype=float)
        idx = np.flatnonzero(np.isfinite(hi))
        if idx.size:
            cons.append(b[idx] <= hi[idx])
    prob = cp.Problem(cp.Minimize(obj), cons)
    kwargs = {}
    if (solver or "CLARABEL") == "CLARABEL":
        kwargs = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=500)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # cvxpy's own accuracy note; checked below
            prob.solve(solver=solver or "CLARABEL", **kwargs)
    except cp.SolverError as exc:
        raise ParameterError(f"cvxpy could not solve the problem of {name!r}: {exc}") from None
    if prob.status not in ("optimal", "optimal_inaccurate") or b.value is None:
        raise ParameterError(
            f"cvxpy returned status {prob.status!r} for {name!r}: the constraints may be "
            "infeasible or the problem unbounded (separated data without a penalty)."
        )
    coef = np.asarray(b.value, dtype=float)
    polished = (
        _polish(coef, X, np.asarray(y, float), w, l1, l2, mask, c, lower, upper) if polish else None
    )
    if polished is not None:
        return polished
    if prob.status == "optimal_inaccurate":
        warnings.warn(f"cvxpy's solution for {name!r} is inaccurate.", FitWarning, stacklevel=2)
    return coef


def _polish(b, X, y, w, l1, l2, mask, c, lower, upper, steps: int = 8, eps: float = 1e-6):
    """Refine a conic solution by Newton steps on its active set (as OSQP "polishes").

    Interior-point solvers reach the logistic optimum only to about the square root of
    their duality gap (~1e-6 in the coefficients). Coefficients at an L1 kink or a bound
    stay fixed; the others take exact Newton steps on the smooth problem with the L1 signs
    fixed. Returns None (keep the conic solution) if the polish would leave the active
    pattern or raise the objective.
    """
    k = len(b)
    lo = np.full(k, -np.inf) if lower is None else np.asarray(lower, float)
    hi = np.full(k, np.inf) if upper is None else np.asarray(upper, float)
    at_kink = (l1 > 0) & (mask > 0) & (np.abs(b - c) < eps)
    at_bound = (np.abs(b - lo) < eps) | (np.abs(b - hi) < eps)
    fixed = at_kink | at_bound
    b = b.copy()
    b[at_kink] = c[at_kink]
    b[at_bound] = np.where(np.abs(b - lo) < eps, lo, hi)[at_bound]
    free = ~fixed
    if not free.any():
        return b
    sign = np.sign(b - c)

    def objective(beta):
        eta = X @ beta
        pen = l1 * np.sum(mask * np.abs(beta - c)) + np.sum(l2 * (mask * (beta - c)) ** 2)
        return np.sum(w * (softplus(eta) - y * eta)) + pen

    f0 = objective(b)
    for _ in range(steps):
        p = expit(X @ b)
        g = X.T @ (w * (p - y)) + l1 * mask * sign + 2 * l2 * mask**2 * (b - c)
        H = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(2 * l2 * mask**2)
        try:
            step = np.linalg.solve(H[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            return None
        b[free] -= step
        if np.max(np.abs(step)) < 1e-13:
            break
    flipped = (l1 > 0) & (mask > 0) & free & (np.sign(b - c) != sign)
    if flipped.any() or (b < lo - 1e-12).any() or (b > hi + 1e-12).any():
        return None
    if objective(b) > f0 + 1e-9 * max(1.0, abs(f0)):
        return None
    return b
