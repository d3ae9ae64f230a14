"""The exact Bradley–Terry fit the presets solve (Newton, Hessian by bincount)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit

from debias.battles.presets.common import BattleRows
from debias.errors import FitWarning

__all__ = ["assemble", "fit_bt", "gradient"]


def assemble(vals: np.ndarray, a, b, x: np.ndarray, m: int) -> np.ndarray:
    """Σ_i vals_i z_i z_iᵀ with z_i = (e_a − e_b, x_i): (m + k) x (m + k), by bincount."""
    k = x.shape[1]
    out = np.zeros((m + k, m + k))
    diag = np.bincount(a, vals, m) + np.bincount(b, vals, m)
    off = np.bincount(a * m + b, vals, m * m).reshape(m, m)
    out[:m, :m] = np.diag(diag) - off - off.T
    if k:
        vx = vals[:, None] * x
        cross = np.stack(
            [np.bincount(a, vx[:, j], m) - np.bincount(b, vx[:, j], m) for j in range(k)], axis=1
        )
        out[:m, m:] = cross
        out[m:, :m] = cross.T
        out[m:, m:] = x.T @ vx
    return out


def gradient(vals: np.ndarray, a, b, x: np.ndarray, m: int) -> np.ndarray:
    g = np.bincount(a, vals, m) - np.bincount(b, vals, m)
    return np.concatenate([g, x.T @ vals]) if x.shape[1] else g


def fit_bt(
    d: BattleRows, x: np.ndarray, *, l2: float = 0.0, tol: float = 1e-10, max_iter: int = 100
):
    """Exact maximiser of Σ w (y log p + (1 − y) log(1 − p)) − l2/2 ||β||², strengths mean 0.

    Newton on (θ without the last model, β), Hessian by bincount, step halving.
    Returns (theta, beta, converged).
    """
    m, k = len(d.models), x.shape[1]
    free = np.r_[np.arange(m - 1), m + np.arange(k)]
    params = np.zeros(m + k)

    def objective(p):
        eta = p[d.a] - p[d.b] + (x @ p[m:] if k else 0.0)
        ll = d.w * (d.y * eta - np.logaddexp(0.0, eta))
        return -ll.sum() + 0.5 * l2 * np.sum(p[m:] ** 2), eta

    value, eta = objective(params)
    converged = False
    for _ in range(max_iter):
        prob = expit(eta)
        grad = -gradient(d.w * (d.y - prob), d.a, d.b, x, m)
        grad[m:] += l2 * params[m:]
        hess = assemble(d.w * prob * (1 - prob), d.a, d.b, x, m)
        hess[m:, m:] += l2 * np.eye(k)
        try:
            step_free = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        except np.linalg.LinAlgError:
            break
        step = np.zeros(m + k)
        step[free] = step_free
        t = 1.0
        while True:
            trial = params - t * step
            new_value, new_eta = objective(trial)
            if new_value <= value + 1e-12 * abs(value) or t < 1e-8:
                break
            t /= 2
        params, value, eta = trial, new_value, new_eta
        if np.max(np.abs(t * step)) < tol:
            converged = True
            break
    theta = params[:m] - params[:m].mean()
    if not converged or np.max(np.abs(theta)) > 30:
        warnings.warn(
            "Bradley-Terry fit did not converge (a model that wins or loses every battle "
            "has no finite strength); its numbers are not supported.",
            FitWarning,
            stacklevel=3,
        )
    return theta, params[m:], converged
