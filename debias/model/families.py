"""Outcome families: what a verdict on the judge's scale says about the linear predictor.

The fitting machinery (the design, :mod:`debias.model.design`; the batched Newton solver,
:mod:`debias.model.solvers.newton`; the sandwich, built from per-row scores and the Hessian)
needs four things of an outcome type, all per row of the linear predictor
``eta = x @ b``. A new outcome type (a cumulative logit for ordered verdicts, a model for
numeric grades) is a new :class:`Family`, not a new pipeline.

The protocol
------------
``name`` : str
    For messages and summaries.
``mean(eta)``
    The inverse link: the expected verdict ``E[y | eta]`` (binomial-logit: ``P(model
    preferred)``), what the counterfactual predictions average.
``loss(eta, y, w)``
    Each row's weighted negative log-likelihood, up to terms free of ``eta`` (the solver
    minimises its sum and halves steps that increase it).
``derivatives(eta, y, w)``
    ``(gradient_weight, hessian_weight)``: the first and second derivatives of ``loss``
    in ``eta``. The gradient in ``b`` is ``X.T @ gradient_weight``, the Hessian
    ``X.T @ (hessian_weight[:, None] * X)``, and the per-row score of the sandwich is
    ``-gradient_weight[:, None] * X`` (so the sandwich is ``H^-1 (sum of the clusters'
    score outer products) H^-1``). The Hessian weight must be non-negative (a convex loss
    in ``eta``): Newton's steps then go downhill.

A family with parameters of its own besides ``b`` (the cut points of the cumulative logit,
a grade model's residual scale) keeps them outside ``eta``: the ordinal fit
(:mod:`debias.model.ordinal`) has its own Newton over ``(b, cut points)`` today; the
protocol above is what it shares with the binary families once its cut points are held
(a profile step), which is how it would join the batched solver.

Examples
--------
>>> import numpy as np
>>> fam = BINOMIAL_LOGIT
>>> eta, y, w = np.array([0.0, 2.0]), np.array([0.5, 1.0]), np.ones(2)
>>> fam.mean(eta).round(3)
array([0.5  , 0.881])
>>> g, h = fam.derivatives(eta, y, w)
>>> g.round(3), h.round(3)
(array([ 0.   , -0.119]), array([0.25 , 0.105]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import expit


@runtime_checkable
class Family(Protocol):
    """The four things the solver and the sandwich need of an outcome type (see above)."""

    name: str

    def mean(self, eta: np.ndarray) -> np.ndarray: ...

    def loss(self, eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def derivatives(
        self, eta: np.ndarray, y: np.ndarray, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))`` (within 1e-15
    relative of ``numpy.logaddexp(0, x)``, twice as fast: numpy's ``exp`` is vectorised).

    Examples
    --------
    >>> softplus(np.array([-800.0, 0.0, 800.0])).tolist()
    [0.0, 0.6931471805599453, 800.0]
    """
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


@dataclass(frozen=True)
class BinomialLogit:
    """A soft or hard binary verdict ``y`` in [0, 1] (``P(model preferred)``) with a logit link.

    The loss ``w (log(1 + exp(eta)) - y eta)`` is the cross-entropy against the soft label:
    the reference's "duplicate each row with weights p and 1 - p" without the copies.

    Examples
    --------
    >>> import numpy as np
    >>> float(BinomialLogit().loss(np.array([0.0]), np.array([1.0]), np.ones(1))[0])
    0.6931471805599453
    """

    name: str = "binomial-logit"

    def mean(self, eta: np.ndarray) -> np.ndarray:
        return expit(eta)

    def loss(self, eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        return w * (softplus(eta) - y * eta)

    def derivatives(
        self, eta: np.ndarray, y: np.ndarray, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        p = expit(eta)
        return w * (p - y), w * p * (1 - p)


@dataclass(frozen=True)
class Gaussian:
    """A numeric verdict (a grade) with an identity link and unit variance: least squares.

    The residual scale does not change the estimate; the sandwich (built from the scores)
    does not need it either. Newton's method solves this in one step.

    Examples
    --------
    >>> import numpy as np
    >>> Gaussian().derivatives(np.array([1.0]), np.array([3.0]), np.array([2.0]))
    (array([-4.]), array([2.]))
    """

    name: str = "gaussian-identity"

    def mean(self, eta: np.ndarray) -> np.ndarray:
        return np.asarray(eta, dtype=float)

    def loss(self, eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        return 0.5 * w * (eta - y) ** 2

    def derivatives(
        self, eta: np.ndarray, y: np.ndarray, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return w * (eta - y), np.broadcast_to(np.asarray(w, dtype=float), np.shape(eta))


BINOMIAL_LOGIT = BinomialLogit()
"""The family of preference verdicts (the default everywhere)."""

GAUSSIAN = Gaussian()
"""Numeric grades on a continuous scale (least squares)."""
