"""Bradley–Terry over any pairs by exact Newton: :func:`fit_newton` and :class:`BTFit`.

The model, for a battle of answer A (model ``a``) against answer B (model ``b``)::

    logit P(A beats B) = s_a - s_b + sum_f beta_f x_f        (x_f signed A minus B)

Ties count as half a win and half a loss in the binomial log-likelihood (``ties="half"``,
the default; soft outcomes in [0, 1] are used as they are), or follow Davidson's (1970)
tie model (``ties="davidson"``)::

    P(A wins) : P(B wins) : P(tie) = pi_a : pi_b : nu * sqrt(pi_a * pi_b),
    log pi = s + (style term, half to each side)

with ``nu`` estimated (reported as :attr:`BTFit.nu`). Rows are weighted.

The gradient and the Hessian are accumulated with :func:`numpy.bincount` over the
battles: the model block from one bincount over the (a, b) pair codes, the strength x
covariate block from one per covariate, the covariate block dense (k x k). No n x p
design is built, so 3,000,000 battles of 250 models with 4 covariates fit in about a
second or two. Each Newton step is halved until the objective decreases.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from debias.battles.design import BattleDesign, covariate_separation, supported_models
from debias.errors import FitWarning, InputError, ParameterError, check_param
from debias.model.separation import NEAR_SEPARATION

__all__ = ["BTFit", "BTProblem", "fit_newton", "fit_result", "penalty_pair"]

TIES = ("half", "davidson")
WARM_START_ROWS = 100_000
"""From this many battles, Newton starts from the strengths of the pair-summed fit."""


@dataclass(frozen=True, eq=False)
class BTFit:
    """A fitted Bradley–Terry model over battles.

    Attributes
    ----------
    design : BattleDesign
        The rows fitted (rows of a model listed in :attr:`problems` are left out).
    strengths : numpy.ndarray
        One per model of ``design.models``, identification applied (see
        :attr:`identify`); NaN for a model in :attr:`problems`.
    coefficients : numpy.ndarray
        One per covariate (``coefficient_names``); with per-model slopes one per
        (covariate, model), covariate-major.
    coefficient_names : tuple of str
    params : numpy.ndarray
        The free parameters: strengths of the supported models but the internal
        reference, then the coefficients, then ``log_nu`` (Davidson).
    param_names : tuple of str
    identify : str
        How the strengths are identified, in words.
    ties : {"half", "davidson"}
    loglik : float
        The weighted log-likelihood at the estimate (without the penalty).
    n_iter : int
    converged : bool
    full_from_free : numpy.ndarray
        ``J`` with ``(strengths, coefficients) = J @ params`` (NaN rows for estimates that
        are not supported), so ``cov_full = J cov_free Jᵀ``.
    penalized : bool
        True when a penalty was applied: Wald intervals are then not valid.
    problems : dict
        Model (or covariate) name -> why its estimate is not supported.
    nu : float or None
        Davidson's tie parameter (None with ``ties="half"``).
    """

    design: BattleDesign
    strengths: np.ndarray
    coefficients: np.ndarray
    coefficient_names: tuple[str, ...]
    params: np.ndarray
    param_names: tuple[str, ...]
    identify: str
    ties: str
    loglik: float
    n_iter: int
    converged: bool
    full_from_free: np.ndarray
    penalized: bool
    problems: dict[str, str]
    nu: float | None = None
    problem: BTProblem | None = field(default=None, repr=False, compare=False)

    def hessian(self) -> np.ndarray:
        """Hessian (p x p) of the minimised objective at the estimate, free parameters.

        The weighted negative log-likelihood, plus the penalty's Hessian when penalised.
        """
        return self.problem.derivatives(self.params)[2]

    def row_scores(self, sparse: bool = False):
        """Per-row gradient of the weighted log-likelihood (n x p, free parameters).

        Rows of the fitted design (``design``); they sum to the penalty's gradient
        (0 without a penalty). ``sparse=True`` returns a ``scipy.sparse.csr_matrix``
        (each row has 2 + k non-zeros), the form to use for millions of battles.
        """
        return self.problem.row_scores(self.params, sparse=sparse)


def fit_newton(
    design: BattleDesign,
    *,
    ties: str = "half",
    identify: str = "sum_to_zero",
    l2: float | tuple[float, float] = 0.0,
    per_model_slopes: bool = False,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> BTFit:
    """Fit strengths and style coefficients by exact Newton.

    Parameters
    ----------
    design : BattleDesign
        From :func:`debias.battles.design.battle_design`.
    ties : {"half", "davidson"}
        ``"half"``: a tie is half a win (binomial log-likelihood; soft outcomes as
        they are). ``"davidson"``: Davidson's tie model (outcomes must be 0, 0.5 or 1).
    identify : str
        ``"sum_to_zero"`` (strengths of the supported models sum to 0) or a model
        name whose strength is fixed at 0.
    l2 : float or (float, float)
        Ridge penalty ``l2/2 * sum (s_j - mean s)^2 + l2/2 * sum beta^2`` added to the
        weighted negative log-likelihood (a sum over battles; for a mean loss pass
        ``l2 * total weight``); a pair gives the strengths' and the coefficients'
        penalties separately. The strengths' penalty is on the centred strengths, so it
        does not depend on ``identify``. Any penalty sets ``penalized=True``.
    per_model_slopes : bool
        One slope per (covariate, model) instead of one per covariate. Each side of a
        battle carries half of its own signed covariate with its own slope, so the
        linear predictor is ``s_a - s_b + sum_f x_f (beta_f,a + beta_f,b) / 2`` (the
        A-side term ``beta_f,a x_f / 2`` minus the B-side term ``beta_f,b (-x_f) / 2``);
        swapping A and B then changes only the sign, as it must.
    tol : float
        Converged when the largest Newton step is below ``tol``.
    max_iter : int

    Returns
    -------
    BTFit

    Warns
    -----
    FitWarning
        When models have no finite strength (listed in ``problems``, strengths NaN) or
        when Newton did not converge.

    Examples
    --------
    >>> import pandas as pd
    >>> from debias.battles.design import battle_design
    >>> frame = pd.DataFrame({"model_a": ["A", "A", "B", "C"], "model_b": ["B", "D", "C", "D"],
    ...                       "outcome": [1.0, 0.0, 1.0, 0.0]})
    >>> wins = [2, 1, 5, 1]; losses = [3, 4, 3, 3]   # A-B 2:3, A-D 1:4, B-C 5:3, C-D 1:3
    >>> rows = pd.concat([frame.iloc[[i]].assign(outcome=1.0, weight=w)
    ...                   for i, w in enumerate(wins)]
    ...                  + [frame.iloc[[i]].assign(outcome=0.0, weight=w)
    ...                     for i, w in enumerate(losses)])
    >>> fit = fit_newton(battle_design(rows))
    >>> np.round(np.exp(fit.strengths), 3).tolist()  # geometric mean 1
    [0.64, 1.043, 0.66, 2.27]
    """
    check_param("ties", ties, "'half' or 'davidson'", ties in TIES)
    if not isinstance(design, BattleDesign):
        raise ParameterError(
            f"The 'design' parameter must be a BattleDesign (debias.battles.design."
            f"battle_design). Got {type(design).__name__}."
        )
    l2_s, l2_b = penalty_pair(l2)
    check_param("tol", tol, "a float > 0", isinstance(tol, (int, float)) and tol > 0)
    check_param(
        "max_iter",
        max_iter,
        "an int >= 1",
        isinstance(max_iter, int) and not isinstance(max_iter, bool) and max_iter >= 1,
    )
    check_param("per_model_slopes", per_model_slopes, "a bool", isinstance(per_model_slopes, bool))
    problems, supported, fitted = supported_models(design, identify, l2_s > 0)
    problem = BTProblem(fitted, supported, ties, per_model_slopes, l2_s, l2_b)
    with threadpool_limits(limits=1):  # small dense solves: threads only contend
        params, n_iter, converged = _newton(problem, tol, max_iter, _start(problem))
    doubtful = not converged or np.max(np.abs(params), initial=0) > NEAR_SEPARATION
    if doubtful and not (per_model_slopes or l2_s or l2_b):
        separated = covariate_separation(fitted, supported)
        if separated:
            warnings.warn(next(iter(separated.values())), FitWarning, stacklevel=2)
            problems = {**problems, **separated}
    if not converged:
        warnings.warn(
            f"the Bradley–Terry fit did not converge in {n_iter} Newton iterations; its "
            "estimates are doubtful (raise max_iter=, or look for separation)",
            FitWarning,
            stacklevel=2,
        )
    return fit_result(problem, params, n_iter, converged, identify, problems)


def penalty_pair(l2, name: str = "l2") -> tuple[float, float]:
    """A penalty as (strengths, coefficients), checked."""
    pair = l2 if isinstance(l2, (tuple, list)) else (l2, l2)
    ok = len(pair) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0
        for v in pair
    )
    check_param(name, l2, "a float >= 0 or a pair of them (strengths, coefficients)", ok)
    return float(pair[0]), float(pair[1])


def _newton(
    problem: BTProblem, tol: float, max_iter: int, theta: np.ndarray | None = None
) -> tuple[np.ndarray, int, bool]:
    theta = np.zeros(problem.p) if theta is None else theta
    value, grad, hess = problem.derivatives(theta)
    for iteration in range(1, max_iter + 1):
        step = problem.solve(hess, grad, first=iteration == 1)
        if step is None:  # the Hessian vanished on the way: estimates running off
            return theta, iteration, False
        if np.max(np.abs(step), initial=0.0) < tol:
            return theta - step, iteration, True
        t = 1.0
        for _ in range(40):  # step-halving: the objective must not increase
            candidate = theta - t * step
            rows = problem.rows(candidate)
            if problem.objective(candidate, rows) <= value + 1e-13 * abs(value):
                break
            t /= 2
        else:
            decrement = float(grad @ step)
            return theta, iteration, decrement < 1e-10 * (1 + abs(value))
        theta = candidate
        value, grad, hess = problem.derivatives(theta, rows)
    return theta, max_iter, False


def _start(problem: BTProblem) -> np.ndarray:
    """Where Newton starts: 0, or for many battles (ties as 1/2) the strengths fitted
    without covariates on the battles summed per ordered pair of models (at most m²
    cells, so nearly free), which saves the first Newton steps over every battle."""
    theta = np.zeros(problem.p)
    if problem.design.n < WARM_START_ROWS or problem.ties != "half":
        return theta
    m = problem.m
    weight = np.bincount(problem.pair, weights=problem.w, minlength=m * m)
    wins = np.bincount(problem.pair, weights=problem.w * problem.y, minlength=m * m)
    cells = np.flatnonzero(weight > 0)
    n = len(cells)
    summed = BattleDesign(
        tuple(map(str, range(m))),
        (cells // m).astype(np.int32),
        (cells % m).astype(np.int32),
        np.zeros((n, 0)),
        (),
        wins[cells] / weight[cells],
        weight[cells],
        np.arange(n),
        n,
        np.arange(n),
    )
    sub = BTProblem(summed, np.ones(m, bool), "half", False, problem.l2_s, 0.0)
    free, _, converged = _newton(sub, 1e-8, 50)
    if not converged:
        return theta
    s = np.insert(free, sub.ref, 0.0)
    theta[: m - 1] = np.delete(s - s[problem.ref], problem.ref)
    return theta


class BTProblem:
    """The weighted negative log-likelihood (plus penalty) over the free parameters."""

    def __init__(self, design, supported, ties, per_model_slopes, l2_s, l2_b):
        self.design = design
        self.supported = supported
        self.ties = ties
        self.per_model = per_model_slopes
        self.l2_s, self.l2_b = l2_s, l2_b
        local = np.cumsum(supported) - 1  # code among the supported models
        self.m = int(supported.sum())
        self.a = local[design.a].astype(np.int64)
        self.b = local[design.b].astype(np.int64)
        self.pair = self.a * self.m + self.b
        self.xt = np.ascontiguousarray(design.x.T)  # (k, n): each covariate contiguous
        self.k = design.x.shape[1]
        self.w = design.weight
        self.unit_weight = bool(np.all(self.w == 1))
        self.y = design.outcome
        played = np.bincount(self.a, minlength=self.m) + np.bincount(self.b, minlength=self.m)
        self.ref = int(np.argmax(played))  # internal reference: the model with most battles
        self.n_coef = self.k * self.m if per_model_slopes else self.k
        self.p = self.m - 1 + self.n_coef + (ties == "davidson")
        if ties == "davidson":
            self._check_davidson()
        self._check_covariates()

    def _check_davidson(self):
        y = self.y[self.w > 0]
        soft = np.flatnonzero(~np.isin(y, (0.0, 0.5, 1.0)))
        if len(soft):
            raise InputError(
                f"ties='davidson' needs outcomes 0, 0.5 or 1; {len(soft)} battle(s) have "
                "another value (a soft verdict); use ties='half'."
            )
        if not (y == 0.5).any() or (y == 0.5).all():
            raise InputError(
                "ties='davidson': "
                + ("no battle is a tie" if not (y == 0.5).any() else "every battle is a tie")
                + ", so the tie parameter has no finite estimate; use ties='half'."
            )

    def _check_covariates(self):
        for j, name in enumerate(self.design.covariate_names):
            if not np.any(self.xt[j][self.w > 0]):
                raise InputError(
                    f"covariate {name!r} is 0 in every battle fitted, so its coefficient "
                    "cannot be estimated; drop it from the covariates."
                )

    # --- parameters ---------------------------------------------------------------
    def split(self, theta):
        """Local strengths (reference 0), coefficients, log nu."""
        s = np.insert(theta[: self.m - 1], self.ref, 0.0)
        coef = theta[self.m - 1 : self.m - 1 + self.n_coef]
        tau = theta[-1] if self.ties == "davidson" else None
        return s, coef, tau

    def eta(self, theta):
        s, coef, _ = self.split(theta)
        eta = s[self.a] - s[self.b]
        if self.k and not self.per_model:
            eta += coef @ self.xt
        elif self.k:
            slopes = coef.reshape(self.k, self.m)
            for f in range(self.k):
                eta += self.xt[f] * (slopes[f, self.a] + slopes[f, self.b]) / 2
        return eta

    def penalty(self, theta):
        s, coef, _ = self.split(theta)
        centred = s - s.mean()
        value = self.l2_s / 2 * centred @ centred + self.l2_b / 2 * coef @ coef
        grad = np.concatenate(
            [
                np.delete(self.l2_s * centred, self.ref),
                self.l2_b * coef,
                [0.0] * (self.p - len(coef) - self.m + 1),
            ]
        )
        hess = np.zeros((self.p, self.p))
        ns = self.m - 1
        hess[:ns, :ns] = self.l2_s * (np.eye(ns) - 1.0 / self.m)
        idx = np.arange(ns, ns + self.n_coef)
        hess[idx, idx] = self.l2_b
        return value, grad, hess

    # --- rows ---------------------------------------------------------------------
    def rows(self, theta):
        """Weighted log-likelihood, and per row its derivatives in the linear predictor.

        ``r``: first derivative; ``h``: minus the second; Davidson adds those in
        ``log nu`` (``r_tau``, ``h_tau``) and the cross term ``h_cross``.
        """
        eta = self.eta(theta)
        w, y = self.w, self.y
        if self.ties == "half":
            u = np.exp(-np.abs(eta))  # stable: p = 1 / (1 + u) or u / (1 + u)
            log_q = -(np.maximum(eta, 0.0) + np.log1p(u))  # log P(B wins)
            inv = 1.0 / (1.0 + u)
            p = np.where(eta >= 0, inv, u * inv)
            r = y - p
            h = p * (1 - p)
            if self.unit_weight:  # log P(A wins) = log_q + eta
                return float(log_q.sum() + y @ eta), {"r": r, "h": h}
            return float(w @ log_q + (w * y) @ eta), {"r": w * r, "h": w * h}
        tau = theta[-1]
        log_d = np.logaddexp(np.logaddexp(eta / 2, -eta / 2), tau)
        tie = y == 0.5
        ll = float(w @ ((y - 0.5) * eta + tie * tau - log_d))
        pa, pb, pt = np.exp(eta / 2 - log_d), np.exp(-eta / 2 - log_d), np.exp(tau - log_d)
        return ll, {
            "r": w * ((y - 0.5) - (pa - pb) / 2),
            "h": w * ((pa + pb) / 4 - (pa - pb) ** 2 / 4),
            "r_tau": w * (tie - pt),
            "h_tau": w * (pt - pt**2),
            "h_cross": -w * (pa - pb) * pt / 2,
        }

    def objective(self, theta, rows=None):
        ll, _ = self.rows(theta) if rows is None else rows
        return -ll + self.penalty(theta)[0]

    def derivatives(self, theta, rows=None):
        """Objective, gradient and Hessian (free parameters) of the minimised objective."""
        ll, d = self.rows(theta) if rows is None else rows
        pen_value, pen_grad, pen_hess = self.penalty(theta)
        grad = np.zeros(self.p)
        hess = np.zeros((self.p, self.p))
        ns, nb = self.m - 1, self.n_coef
        grad[: ns + nb] = -self._zt(d["r"])
        hess[: ns + nb, : ns + nb] = self._ztz(d["h"])
        if self.ties == "davidson":
            grad[-1] = -d["r_tau"].sum()
            hess[-1, -1] = d["h_tau"].sum()
            hess[: ns + nb, -1] = hess[-1, : ns + nb] = self._zt(d["h_cross"])
        return -ll + pen_value, grad + pen_grad, hess + pen_hess

    def _pairs(self, v):
        return np.bincount(self.pair, weights=v, minlength=self.m * self.m).reshape(self.m, -1)

    def _zt(self, v):
        """``Zᵀ v`` over the strength and coefficient columns of the design Z."""
        q = self._pairs(v)
        strengths = np.delete(q.sum(axis=1) - q.sum(axis=0), self.ref)
        if not self.k:
            return strengths
        if not self.per_model:
            return np.concatenate([strengths, self.xt @ v])
        slopes = []
        for f in range(self.k):
            q = self._pairs(v * self.xt[f])
            slopes.append((q.sum(axis=1) + q.sum(axis=0)) / 2)
        return np.concatenate([strengths, *slopes])

    def _ztz(self, h):
        """``Zᵀ diag(h) Z`` over the strength and coefficient columns."""
        m, k, ns = self.m, self.k, self.m - 1
        q = self._pairs(h)
        ss = np.diag(q.sum(axis=1) + q.sum(axis=0)) - q - q.T
        out = np.zeros((ns + self.n_coef, ns + self.n_coef))
        out[:ns, :ns] = np.delete(np.delete(ss, self.ref, 0), self.ref, 1)
        if not k:
            return out
        hx = h * self.xt
        if not self.per_model:
            for f in range(k):
                q = self._pairs(hx[f])
                out[:ns, ns + f] = out[ns + f, :ns] = np.delete(
                    q.sum(axis=1) - q.sum(axis=0), self.ref
                )
            out[ns:, ns:] = hx @ self.xt.T
            return out
        for f in range(k):
            q = self._pairs(hx[f])
            block = (np.diag(q.sum(axis=1) - q.sum(axis=0)) + q - q.T) / 2
            cols = slice(ns + f * m, ns + (f + 1) * m)
            out[:ns, cols] = np.delete(block, self.ref, 0)
            out[cols, :ns] = out[:ns, cols].T
            for g in range(f, k):
                q = self._pairs(hx[f] * self.xt[g])
                block = (np.diag(q.sum(axis=1) + q.sum(axis=0)) + q + q.T) / 4
                rows = slice(ns + g * m, ns + (g + 1) * m)
                out[cols, rows] = block
                out[rows, cols] = block.T
        return out

    def solve(self, hess, grad, first=True):
        """The Newton step; a singular Hessian at the start is a rank-deficient design
        (an error), later it is a fit running off (None)."""
        try:
            return scipy.linalg.cho_solve(scipy.linalg.cho_factor(hess), grad)
        except (np.linalg.LinAlgError, ValueError):
            if not first:
                return None
            names = ", ".join(self.design.covariate_names) or "none"
            raise InputError(
                "the Bradley–Terry design is rank-deficient (a covariate is collinear with "
                f"the strengths or with another covariate; covariates: {names}); drop one, "
                "or pass a penalty (penalty='l2', alpha=...)."
            ) from None

    def row_scores(self, theta, sparse=False):
        """Per-row log-likelihood gradient, written row by row straight into CSR: a fixed
        number of entries per row (the reference model's entry an explicit 0)."""
        from scipy.sparse import csr_matrix

        _, d = self.rows(theta)
        n, ns, r, k = self.design.n, self.m - 1, d["r"], self.k
        free = np.arange(self.m) - (np.arange(self.m) > self.ref)  # local model -> column
        free[self.ref] = 0
        width = 2 + (2 * k if self.per_model else k) + (self.ties == "davidson")
        cols = np.empty((n, width), dtype=np.int32)
        vals = np.empty((n, width))
        cols[:, 0], cols[:, 1] = free[self.a], free[self.b]
        vals[:, 0] = np.where(self.a == self.ref, 0.0, r)
        vals[:, 1] = np.where(self.b == self.ref, 0.0, -r)
        for f in range(k):
            if self.per_model:
                cols[:, 2 + 2 * f] = ns + f * self.m + self.a
                cols[:, 3 + 2 * f] = ns + f * self.m + self.b
                vals[:, 2 + 2 * f] = vals[:, 3 + 2 * f] = r * self.xt[f] / 2
            else:
                cols[:, 2 + f] = ns + f
                vals[:, 2 + f] = r * self.xt[f]
        if self.ties == "davidson":
            cols[:, -1] = self.p - 1
            vals[:, -1] = d["r_tau"]
        indptr = np.arange(0, n * width + 1, width, dtype=np.int64)
        out = csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(n, self.p))
        return out if sparse else out.toarray()


def fit_result(problem: BTProblem, params, n_iter, converged, identify, problems) -> BTFit:
    design = problem.design
    models, m_all, m, ns = design.models, design.n_models, problem.m, problem.m - 1
    k = problem.k
    supported = np.flatnonzero(problem.supported)
    # local strengths = E @ theta_s (E inserts the internal reference's 0)
    embed = np.insert(np.eye(ns), problem.ref, 0.0, axis=0)
    if identify == "sum_to_zero":
        to_strengths = embed - embed.mean(axis=0)
        stated = f"sum to zero over the {m} models with a finite strength"
    else:
        ref_local = int(np.flatnonzero(supported == models.index(identify))[0])
        to_strengths = embed - embed[ref_local]
        stated = f"reference model {identify!r} fixed at 0"
    names = design.covariate_names
    if problem.per_model:
        coef_names = tuple(f"{f}[{model}]" for f in names for model in models)
        coef_rows = (np.arange(k)[:, None] * m_all + supported[None, :]).ravel()
    else:
        coef_names, coef_rows = tuple(names), np.arange(k)
    n_coef_all = len(coef_names)
    jac = np.full((m_all + n_coef_all, problem.p), np.nan)
    jac[supported] = 0.0
    jac[supported, :ns] = to_strengths
    jac[m_all + coef_rows] = 0.0
    jac[m_all + coef_rows, ns + np.arange(problem.n_coef)] = 1.0
    names_all = (*models, *coef_names)
    if not converged:  # never report an estimate that is running off as a number
        tentative = _apply(jac, params)
        problems = dict(problems)
        for name, value in zip(names_all, tentative, strict=True):
            if abs(value) > NEAR_SEPARATION and name not in problems:
                problems[name] = (
                    f"the fit did not converge and this estimate runs off (|{value:.3g}| > "
                    f"{NEAR_SEPARATION:g}): near separation, not supported"
                )
    jac[[i for i, name in enumerate(names_all) if name in problems]] = np.nan
    full = _apply(jac, params)
    free_models = [models[j] for j in np.delete(supported, problem.ref)]
    param_names = (
        *free_models,
        *(coef_names[i] for i in coef_rows),
        *(("log_nu",) if problem.ties == "davidson" else ()),
    )
    ll, _ = problem.rows(params)
    return BTFit(
        design=design,
        strengths=full[:m_all],
        coefficients=full[m_all:],
        coefficient_names=coef_names,
        params=params,
        param_names=tuple(param_names),
        identify=stated,
        ties=problem.ties,
        loglik=ll,
        n_iter=n_iter,
        converged=converged,
        full_from_free=jac,
        penalized=problem.l2_s > 0 or problem.l2_b > 0,
        problems=dict(problems),
        nu=float(np.exp(params[-1])) if problem.ties == "davidson" else None,
        problem=problem,
    )


def _apply(jac, params):
    """``jac @ params`` with NaN rows kept NaN (and no NaN leaking into other rows)."""
    out = np.nan_to_num(jac) @ params
    out[np.isnan(jac).all(axis=1) & (jac.shape[1] > 0)] = np.nan
    return out
