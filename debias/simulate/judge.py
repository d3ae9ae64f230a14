"""The simulated judge: known strengths, length and markdown sensitivity, difficulty,
position bias, soft or hard verdicts, and the ground truth by quadrature.

See :mod:`debias.simulate` for the judge model. :class:`Judge` turns one model's
outputs into probabilities and drawn preferences; :func:`model_params` draws the
models' strengths, lengths and markdown densities; :func:`pick_rows` chooses the rows
a model loses (missing, empty, no verdict); :func:`truth_table` and
:func:`population_lc_win_rate` give the truth the estimators are tested against.

Examples
--------
>>> judge = Judge(length_effect=0.8, markdown_effect=0.0, markdown_scale=10.0,
...               position_bias=0.0, soft=False, concentration=8.0)
>>> float(judge.logit(0.0, 1.0, 0.0, 100.0, 100.0, 0, True).round(4))  # 0.8 tanh(1)
0.6093
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit, ndtr, ndtri

from debias.simulate.texts import Outputs

__all__ = [
    "Judge",
    "baseline_block",
    "model_params",
    "pick_rows",
    "population_lc_win_rate",
    "truth_table",
]

_QUADRATURE_NODES = 80


def _latin_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` standard-normal scores spread evenly (Latin hypercube), in random order."""
    return ndtri((rng.permutation(n) + rng.random(n)) / n)


def model_params(
    rng: np.random.Generator,
    n: int,
    theta,
    theta_range,
    mean_length,
    length_range,
    corr: float,
    psi,
    markdown_density,
    markdown_range,
) -> dict[str, np.ndarray]:
    """Strength θ, mean length, markdown density and ψ of each of ``n`` models.

    Values given (not None) are kept; the others are drawn: θ spread evenly over
    ``theta_range`` (Latin hypercube), mean lengths log-uniform on ``length_range`` with
    Gaussian-copula correlation ``corr`` to θ, markdown densities uniform on
    ``markdown_range``.

    Examples
    --------
    >>> par = model_params(np.random.default_rng(0), 3, None, (-1.0, 1.0), None,
    ...                    (100.0, 400.0), 0.0, 1.0, None, (0.0, 5.0))
    >>> sorted(par), bool(((par["theta"] > -1) & (par["theta"] < 1)).all())
    (['markdown_density', 'mean_length', 'psi', 'theta'], True)
    """
    z_theta = _latin_normal(rng, n)
    z_len = rng.standard_normal(n)
    u_md = rng.random(n)
    if theta is None:
        lo, hi = theta_range
        theta = lo + (hi - lo) * ndtr(z_theta)
    else:
        theta = np.asarray(theta, dtype=float)
        sd = theta.std()
        z_theta = (theta - theta.mean()) / sd if n > 1 and sd > 0 else np.zeros(n)
    if mean_length is None:
        lo, hi = length_range
        u = ndtr(corr * z_theta + math.sqrt(1 - corr**2) * z_len)
        mean_length = lo * (hi / lo) ** u
    if markdown_density is None:
        lo, hi = markdown_range
        markdown_density = lo + (hi - lo) * u_md
    return {
        "theta": np.asarray(theta, dtype=float),
        "psi": np.broadcast_to(np.asarray(psi, dtype=float), (n,)).copy(),
        "mean_length": np.asarray(mean_length, dtype=float),
        "markdown_density": np.asarray(markdown_density, dtype=float),
    }


def pick_rows(rng: np.random.Generator, candidates: np.ndarray, rate: float) -> np.ndarray:
    """Exactly ``round(rate * len(candidates))`` of ``candidates``, uniformly at random.

    Examples
    --------
    >>> pick_rows(np.random.default_rng(0), np.arange(20), 0.1).size
    2
    """
    k = int(round(rate * len(candidates)))
    return np.sort(rng.choice(candidates, size=k, replace=False)) if k else candidates[:0]


def population_lc_win_rate(
    theta_diff: float | np.ndarray, psi: float | np.ndarray, difficulty_sd: float
) -> np.ndarray:
    """100 × E_γ[σ(θ_diff + ψ·γ)] for γ ~ N(0, difficulty_sd), by Gauss–Hermite quadrature.

    Parameters
    ----------
    theta_diff : float or array
        θ_m − θ_b.
    psi : float or array
        The models' slopes on the difficulty (broadcast with ``theta_diff``).
    difficulty_sd : float
        SD of γ.

    Returns
    -------
    numpy.ndarray
        The population length-controlled win rates, in percent.

    Examples
    --------
    >>> float(population_lc_win_rate(0.0, 1.0, 1.0))
    50.0
    >>> round(float(population_lc_win_rate(1.0, 1.0, 0.0)), 4)  # no difficulty: σ(1)
    73.1059
    """
    nodes, weights = hermegauss(_QUADRATURE_NODES)
    weights = weights / weights.sum()
    th = np.asarray(theta_diff, dtype=float)[..., None]
    ps = np.asarray(psi, dtype=float)[..., None]
    return 100.0 * (expit(th + ps * difficulty_sd * nodes) * weights).sum(axis=-1)


def baseline_block(base: Outputs, n: int) -> dict[str, Any]:
    """The baseline judged against itself: ties (0.5) on all ``n`` rows, no judge call.

    Examples
    --------
    >>> from debias.simulate.texts import draw_outputs
    >>> base = draw_outputs(np.random.default_rng(0), 200.0, np.zeros(3), 0.3, 0.09, 5.0,
    ...                     np.array([0.2, 0.5, 0.3]), False)
    >>> baseline_block(base, 3)["preference"].tolist()
    [0.5, 0.5, 0.5]
    """
    idx = np.arange(n)
    return {
        "idx": idx,
        "out": base,
        "delta": np.zeros(n, dtype=np.int64),
        "sd": 1.0,
        "model_first": np.zeros(n, dtype=bool),
        "logit": np.zeros(n),
        "p": np.full(n, 0.5),
        "preference": np.full(n, 0.5),
    }


@dataclass(frozen=True)
class Judge:
    """The judge's biases (see the module docstring)."""

    length_effect: float
    markdown_effect: float
    markdown_scale: float
    position_bias: float
    soft: bool
    concentration: float

    def logit(self, theta, psi, gamma, delta, sd, markdown_diff, model_first) -> np.ndarray:
        """logit P(model preferred) of each row."""
        return (
            theta
            + psi * gamma
            + self.length_effect * np.tanh(delta / sd)
            + self.markdown_effect * markdown_diff / self.markdown_scale
            + self.position_bias * np.where(model_first, 1.0, -1.0)
        )

    def draw(self, rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
        """Preferences with mean ``p``: Beta(κp, κ(1−p)) if soft, else Bernoulli(p)."""
        if self.soft:
            q, k = np.clip(p, 1e-12, 1 - 1e-12), self.concentration
            return rng.beta(k * q, k * (1 - q))
        return (rng.random(len(p)) < p).astype(float)

    def judge(self, rng, out: Outputs, base: Outputs, keep, nan_rows, gamma, theta, psi):
        """Probabilities and drawn preferences for one model's kept rows."""
        delta = out.length[keep] - base.length[keep]
        sd = float(np.std(delta, ddof=1)) if len(keep) > 1 else 0.0
        sd = sd if math.isfinite(sd) and sd > 0 else 1.0
        model_first = rng.random(len(keep)) < 0.5
        md_diff = out.markdown[keep] - base.markdown[keep]
        logit = self.logit(theta, psi, gamma[keep], delta, sd, md_diff, model_first)
        p = expit(logit)
        preference = self.draw(rng, p)
        preference[np.isin(keep, nan_rows)] = np.nan
        return {
            "idx": keep,
            "out": out,
            "delta": delta,
            "sd": sd,
            "model_first": model_first,
            "logit": logit,
            "p": p,
            "preference": preference,
        }


def truth_table(names, blocks, par, gamma, args, include_baseline) -> pd.DataFrame:
    """The truth table: one row per model (baseline first), see :class:`Simulation`.

    ``blocks`` are the per-model results of :meth:`Judge.judge` (and
    :func:`baseline_block`), ``par`` the output of :func:`model_params`, ``gamma`` the
    instructions' difficulties and ``args`` the settings of :func:`simulate`.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> simulate(n_models=1, n_instructions=5, seed=0).truth.model.tolist()
    ['baseline', 'model_0']
    """
    zero = [0.0] if include_baseline else []
    theta = np.array(zero + par["theta"].tolist())
    psi = np.array(zero + par["psi"].tolist())
    mean_length = np.array(
        ([args["baseline_length"]] if include_baseline else []) + par["mean_length"].tolist()
    )
    density = np.array(
        ([args["baseline_markdown_density"]] if include_baseline else [])
        + par["markdown_density"].tolist()
    )
    sample = 100 * expit(theta[:, None] + psi[:, None] * gamma[None, :]).mean(axis=1)
    true_wr = []
    for b in blocks:
        ok = ~np.isnan(b["preference"])
        true_wr.append(100 * float(b["p"][ok].mean()) if ok.any() else math.nan)
    return pd.DataFrame(
        {
            "model": names,
            "theta": theta,
            "psi": psi,
            "length_effect": float(args["length_effect"]),
            "markdown_effect": float(args["markdown_effect"]),
            "mean_length": mean_length,
            "markdown_density": density,
            "n": [len(b["idx"]) for b in blocks],
            "avg_length": [
                float(b["out"].length[b["idx"]].mean()) if len(b["idx"]) else math.nan
                for b in blocks
            ],
            "sd_delta_length": [b["sd"] for b in blocks],
            "true_lc_win_rate": population_lc_win_rate(theta, psi, float(args["difficulty_sd"])),
            "true_lc_win_rate_sample": sample,
            "true_win_rate": true_wr,
        }
    )
