"""Stage-2 engines: per-model soft-label logistic fits with the difficulty frozen.

Every engine minimises, for each model ``g`` separately,

    sum_i w_i * [log(1 + exp(x_i b_g)) - y_i * x_i b_g]  +  penalty(b_g)

over the model's own rows plus optional *shared rows* (the baseline's own gamed
variants, added to every model with their own weights). ``y`` is the soft label
P(model preferred) in [0, 1]; the cross-entropy against a continuous target is the
reference's "duplicate each row with weights p and 1 - p" trick without the copies.

- :func:`fit_newton` fits all models at once (batched Newton with step halving);
  it handles no penalty and L2 penalties. The default engine.
- :func:`~debias.model.solvers.cvxpy.fit_cvxpy` fits one model with any mix of L1/L2 penalties (toward chosen
  centres) and sign constraints.
- :func:`~debias.model.solvers.alpaca_eval.fit_alpaca_eval` is the reference's exact procedure (L1, C chosen by
  grouped 5-fold CV on a soft-label log loss, liblinear).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from debias.errors import FitWarning, ParameterError
from debias.model.families import BINOMIAL_LOGIT, Family, softplus
from debias.model.separation import NEAR_SEPARATION

__all__ = [
    "NewtonResult",
    "Problem",
    "block_starts",
    "fit_newton",
    "group_gram",
    "one_blas_thread",
    "penalty_strengths",
    "softplus",
]


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
        self._starts = block_starts(self.group, self.n_groups)

    @property
    def k(self) -> int:
        return self.X.shape[1]

    def rows_of(self, g: int) -> np.ndarray:
        """Indices of model ``g``'s own rows."""
        return np.flatnonzero(self.group == g)

    def group_total(self, values: np.ndarray) -> np.ndarray:
        """Sum per model of one value per row, shape (n_groups,)."""
        if self._starts is not None:
            return np.add.reduceat(values, self._starts)
        return np.bincount(self.group, weights=values, minlength=self.n_groups)

    def group_gram(self, weights: np.ndarray) -> np.ndarray:
        """``X_g.T @ diag(weights_g) @ X_g`` of every model, shape (n_groups, k, k)."""
        return group_gram(self.X, self.group, weights, self.n_groups, starts=self._starts)

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per model of per-row values (1-D or 2-D), shape (n_groups, ...)."""
        out = self._S @ values.reshape(len(values), -1)
        return np.asarray(out).reshape((self.n_groups, *values.shape[1:]))


def block_starts(group: np.ndarray, n_groups: int) -> np.ndarray | None:
    """First row of each group when the rows come as contiguous blocks ``0, 0, 1, 2, 2, ...``
    (every group present, in order), else None.

    Sums over such blocks are ``np.add.reduceat`` (~15x faster than a weighted
    ``np.bincount``; pairwise summation, so the last bits may differ).

    Examples
    --------
    >>> block_starts(np.array([0, 0, 1, 2, 2]), 3).tolist()
    [0, 2, 3]
    >>> block_starts(np.array([0, 1, 0]), 2) is None
    True
    """
    group = np.asarray(group)
    if n_groups < 1 or len(group) == 0 or group[0] != 0 or group[-1] != n_groups - 1:
        return None
    steps = np.diff(group)
    if ((steps != 0) & (steps != 1)).any():
        return None
    return np.r_[0, np.flatnonzero(steps) + 1]


def group_gram(
    X: np.ndarray,
    group: np.ndarray,
    weights: np.ndarray,
    n_groups: int,
    starts: np.ndarray | None = None,
) -> np.ndarray:
    """``X_g.T @ diag(weights_g) @ X_g`` for every group g, shape (n_groups, k, k), with O(n)
    extra memory: one pass per entry of the upper triangle, no (n, k**2) array of products
    (232 MB at 1,000 models x 805 prompts and k = 6, and as much again for its weighted copy).
    ``starts``: :func:`block_starts` of ``group`` when the groups are contiguous blocks
    (then each entry is a ``reduceat`` instead of a ``bincount``).

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [1.0, -1.0], [1.0, 0.5]])
    >>> group_gram(X, np.array([0, 0, 1]), np.ones(3), 2)[0].tolist()
    [[2.0, 1.0], [1.0, 5.0]]
    """
    k = X.shape[1]
    out = np.empty((n_groups, k, k))
    for a in range(k):
        wa = weights * X[:, a]
        for b in range(a, k):
            if starts is not None:
                out[:, a, b] = out[:, b, a] = np.add.reduceat(wa * X[:, b], starts)
            else:
                out[:, a, b] = out[:, b, a] = np.bincount(group, wa * X[:, b], minlength=n_groups)
    return out


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


def penalty_strengths(l2, shape: tuple[int, int]) -> np.ndarray:
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
    with one_blas_thread():
        return _fit_newton(problem, **kwargs)


_CONTROLLER: ThreadpoolController | None = None


def one_blas_thread():
    """A context limiting BLAS to one thread. The controller is made once: a fresh
    ``threadpool_limits`` rediscovers the loaded libraries each time (~1.5 ms a call)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


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
    family: Family = BINOMIAL_LOGIT,
) -> NewtonResult:
    """Fit every model's problem at once by batched Newton steps.

    Parameters
    ----------
    problem : Problem
    l2 : float or ndarray
        Penalty ``sum_j l2_j * penalize_j * (b_j - center_j)**2`` added to each model: one
        strength for all, or one per coefficient ``(k,)``, per model ``(G, 1)`` or both
        ``(G, k)`` (e.g. the partial-pooling penalty ``1 / (2 tau_j**2)``,
        :mod:`debias.model.pooling`).
    penalize : ndarray of bool, shape (k,), optional
        Which coefficients the L2 penalty applies to (default: all but the first).
    center : ndarray, shape (k,) or (G, k), optional
        Where the penalty pulls the coefficients (default 0).
    tol : float
        Stop a model when its largest Newton step is below ``tol * (1 + |b|)``.
    max_iter : int
    names, columns : list of str, optional
        Model and coefficient names, used in warnings.
    family : Family, default BINOMIAL_LOGIT
        The outcome's loss and its derivatives in the linear predictor
        (:mod:`debias.model.families`; any convex one, e.g. ``GAUSSIAN`` for grades).

    Returns
    -------
    NewtonResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(400), rng.normal(size=400)])
    >>> y = BINOMIAL_LOGIT.mean(X @ [0.5, 1.0]) > rng.random(400)
    >>> res = fit_newton(Problem(X, y.astype(float), np.ones(400), np.zeros(400, int), 1))
    >>> bool(res.converged[0])
    True
    """
    G, k = problem.n_groups, problem.k
    l2 = penalty_strengths(l2, (G, k))
    mask = np.ones(k) if penalize is None else np.asarray(penalize, dtype=float)
    if penalize is None:
        mask[0] = 0.0
    centre = np.zeros((G, k)) if center is None else np.broadcast_to(center, (G, k)).astype(float)
    X, y, w, grp = problem.X, problem.y, problem.w, problem.group
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
        f = problem.group_total(family.loss(eta, y, w))
        pen_f, pen_g = _penalty_terms(B, l2, mask, centre)
        f = f + pen_f
        if problem.shared_X is not None:
            eta_s = problem.shared_X @ B.T  # (ns, G)
            ws, ys = problem.shared_w[:, None], problem.shared_y[:, None]
            f = f + np.sum(family.loss(eta_s, ys, ws), axis=0)
        if not want_derivs:
            return f, None, None
        d1, d2 = family.derivatives(eta, y, w)
        g = np.column_stack([problem.group_total(d1 * X[:, j]) for j in range(k)]) + pen_g
        H = problem.group_gram(d2)
        H += 2 * (l2 * mask)[:, :, None] * np.eye(k)[None]
        if problem.shared_X is not None:
            d1s, d2s = family.derivatives(eta_s, ys, ws)
            g += d1s.T @ problem.shared_X
            H += (d2s.T @ XXs).reshape(G, k, k)
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
