"""Bradley–Terry over battles with penalties and constraints (cvxpy): :func:`fit_convex`.

The same model and identification as :func:`debias.battles.newton.fit_newton` (ties as
half a win), solved as one convex problem so that L1 penalties, bounds on the style
coefficients and a mean loss can be added. The objective::

    loss * (1 / W if loss == "mean" else 1)
      + l2_s / 2 * sum (s - mean s)^2 + l2_b / 2 * sum beta^2
      + l1_s * sum |s - mean s| + l1_b * sum |beta|

with ``loss`` the weighted negative log-likelihood and ``W`` the total weight. Any
penalty, or a bound that is active at the solution, sets ``penalized=True``: Wald
intervals are not valid then. The solver (Clarabel by default) is accurate to about
1e-6; meant for up to some hundred thousand battles (use :func:`fit_newton` beyond).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

import numpy as np

from debias.battles.design import BattleDesign, supported_models
from debias.battles.newton import BTFit, BTProblem, fit_result, penalty_pair
from debias.errors import FitWarning, InputError, ParameterError, check_param

__all__ = ["fit_convex"]

ACTIVE = 1e-7
"""A coefficient within this of its bound is at the bound."""


def fit_convex(
    design: BattleDesign,
    *,
    l2: float | tuple[float, float] = 0.0,
    l1: float | tuple[float, float] = 0.0,
    loss: str = "sum",
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    identify: str = "sum_to_zero",
    solver: str | None = None,
) -> BTFit:
    """Fit strengths and style coefficients with penalties and bounds (cvxpy).

    Parameters
    ----------
    design : BattleDesign
    l2, l1 : float or (float, float)
        Ridge and lasso penalties; a pair gives (strengths, coefficients) separately.
        Strengths are penalised centred, so the result does not depend on ``identify``.
    loss : {"sum", "mean"}
        The negative log-likelihood summed over battles, or divided by the total weight
        (arena-rank's convention: the same penalty then weighs far more).
    bounds : mapping, optional
        Covariate name -> (low, high) (None: unbounded), e.g. ``{"length": (0, None)}``.
    identify : str
        ``"sum_to_zero"`` or a reference model (strength 0).
    solver : str, optional
        A cvxpy solver (default CLARABEL, with tight tolerances).

    Returns
    -------
    BTFit
        ``hessian()`` and ``row_scores()`` are those of the summed loss with the ridge
        penalty (the lasso and the bounds have none).

    Examples
    --------
    >>> import pandas as pd
    >>> from debias.battles.design import battle_design
    >>> frame = pd.DataFrame({"model_a": ["a", "a", "b", "b"], "model_b": ["b", "c", "c", "a"],
    ...                       "outcome": [1.0, 1.0, 0.0, 0.5]})
    >>> fit = fit_convex(battle_design(frame), l2=1.0)
    >>> np.round(fit.strengths, 3).tolist(), fit.penalized
    ([0.458, -0.458, -0.0], True)
    """
    import cvxpy as cp

    if not isinstance(design, BattleDesign):
        raise ParameterError(
            f"The 'design' parameter must be a BattleDesign. Got {type(design).__name__}."
        )
    l2_s, l2_b = penalty_pair(l2)
    l1_s, l1_b = penalty_pair(l1, "l1")
    check_param("loss", loss, "'sum' or 'mean'", loss in ("sum", "mean"))
    low, high = _bounds(bounds, design.covariate_names)
    problems, supported, fitted = supported_models(design, identify, l2_s > 0 or l1_s > 0)
    total = float(fitted.weight.sum())
    scale = 1.0 / total if loss == "mean" else 1.0
    # the same optimum as a summed loss with every penalty multiplied by 1 / scale
    problem = BTProblem(fitted, supported, "half", False, l2_s / scale, l2_b / scale)

    m, k = problem.m, problem.k
    s = cp.Variable(m)
    beta = cp.Variable(k) if k else None
    from scipy.sparse import csr_matrix

    rows = np.arange(fitted.n)
    pairs = csr_matrix(
        (
            np.r_[np.ones(fitted.n), -np.ones(fitted.n)],
            (np.r_[rows, rows], np.r_[problem.a, problem.b]),
        ),
        shape=(fitted.n, m),
    )
    eta = pairs @ s + (fitted.x @ beta if k else 0)
    w, y = fitted.weight, fitted.outcome
    nll = cp.sum(cp.multiply(w, cp.logistic(eta))) - (w * y) @ eta
    objective = scale * nll + l2_s / 2 * cp.sum_squares(s) + l1_s * cp.norm1(s)
    constraints = [cp.sum(s) == 0]  # centred: the penalties see s - mean s
    if k:
        objective = objective + l2_b / 2 * cp.sum_squares(beta) + l1_b * cp.norm1(beta)
        constraints += [beta[j] >= low[j] for j in np.flatnonzero(np.isfinite(low))]
        constraints += [beta[j] <= high[j] for j in np.flatnonzero(np.isfinite(high))]
    prob = cp.Problem(cp.Minimize(objective), constraints)
    _solve(prob, solver or "CLARABEL")
    if prob.status not in ("optimal", "optimal_inaccurate") or s.value is None:
        raise InputError(
            f"cvxpy returned status {prob.status!r}: the bounds may be infeasible, or the "
            "data separated without a penalty."
        )
    converged = prob.status == "optimal"
    if not converged:
        warnings.warn("cvxpy's solution is inaccurate.", FitWarning, stacklevel=2)
    coef = np.asarray(beta.value, dtype=float) if k else np.zeros(0)
    local = np.asarray(s.value, dtype=float)
    params = np.concatenate([np.delete(local - local[problem.ref], problem.ref), coef])
    n_iter = int(getattr(prob.solver_stats, "num_iters", 0) or 0)
    fit = fit_result(problem, params, n_iter, converged, identify, problems)
    active = bool(np.any(np.abs(coef - low) < ACTIVE) or np.any(np.abs(coef - high) < ACTIVE))
    penalized = fit.penalized or l1_s > 0 or l1_b > 0 or active
    return dataclasses.replace(fit, penalized=penalized)


def _solve(prob, solver: str) -> None:
    """Solve; with Clarabel, tight tolerances first and 1e-8 if those stall."""
    import cvxpy as cp

    tolerances = (1e-10, 1e-8) if solver == "CLARABEL" else (None,)
    for tol in tolerances:
        options = {} if tol is None else {
            "tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol, "max_iter": 500
        }  # fmt: skip
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # accuracy: the status says it
                prob.solve(solver=solver, **options)
        except cp.SolverError as exc:
            raise ParameterError(
                f"cvxpy could not solve the Bradley–Terry problem: {exc}"
            ) from None
        if prob.status != "optimal_inaccurate":
            return


def _bounds(bounds, names) -> tuple[np.ndarray, np.ndarray]:
    low = np.full(len(names), -np.inf)
    high = np.full(len(names), np.inf)
    if bounds is None:
        return low, high
    if not isinstance(bounds, Mapping):
        raise ParameterError(
            f"The 'bounds' parameter must be a mapping covariate -> (low, high). Got {bounds!r}."
        )
    for name, pair in bounds.items():
        if name not in names:
            raise ParameterError(
                f"bounds= names {name!r}, which is not a covariate ({', '.join(names) or 'none'})."
            )
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2
        lo, hi = pair if ok else (None, None)
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        if not ok or not all(isinstance(v, (int, float)) for v in (lo, hi)) or lo > hi:
            raise ParameterError(
                f"bounds= {name!r}: expected (low, high) with low <= high (None: unbounded). "
                f"Got {pair!r}."
            )
        j = names.index(name)
        low[j], high[j] = lo, hi
    return low, high
