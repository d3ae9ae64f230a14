"""Simulated graders with known ordinal thresholds and grade-length slopes.

Two set-ups, each drawn from a cumulative logit whose parameters are known exactly:

:func:`simulate_grades` (single-answer grades, as MT-Bench or Arena-Bench grade one answer)::

    latent = alpha_m + slope * x + u_p + logistic noise,   x = log(1 + len) - ref_p
    grade  = levels[k]  where theta_k <  latent <= theta_{k+1}

``ref_p`` is the median of ``log(1 + len)`` over the prompt's answers (the reference length
the estimators use), ``u_p ~ N(0, prompt_sd)`` a prompt effect (0 by default: the marginal
cumulative logit is then exactly right). Lengths are lognormal:
``log len = log(base_length) + length_bias_m + a_p + e``.

:func:`simulate_graded_verdicts` (pairwise levels, as Arena-Hard's five)::

    latent = s_A - s_B + style_slope * (len_A - len_B) / (len_A + len_B) + logistic noise

with ``s`` the models' strengths (``s`` of the first model, the anchor, is 0) and the level
from the cut points, lowest level = B much better.

Ground truth
------------
``truth["controlled_grade"]``: the mean over the simulated prompts of the expected grade at
the reference length, ``mean_p sum_k level_k P(Y = k | alpha_m + u_p, x = 0)``;
``truth["controlled_grade_population"]`` the same over the population of prompts
(``u ~ N(0, prompt_sd)``, Gauss-Hermite), which prompt-clustered intervals target (they equal
when ``prompt_sd = 0``).

Examples
--------
>>> sim = simulate_grades(n_models=3, n_prompts=50, seed=1)
>>> sim.grades.columns.tolist()
['judge', 'prompt', 'model', 'grade', 'length']
>>> sim.truth[["model", "effect", "controlled_grade"]].round(2)
     model  effect  controlled_grade
0  model_0    -1.0              4.43
1  model_1     0.0              5.50
2  model_2     1.0              6.57
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.errors import check_param

DEFAULT_THRESHOLDS_10 = tuple(np.linspace(-3.6, 3.6, 9).round(3))
"""Cut points of the default 1-10 scale (evenly spaced)."""


@dataclass(frozen=True)
class GradeSimulation:
    """Simulated grades and the parameters that drew them.

    Attributes
    ----------
    grades : pandas.DataFrame
        ``judge, prompt, model, grade, length`` (length in characters).
    truth : pandas.DataFrame
        ``model, effect, controlled_grade, controlled_grade_population``.
    thresholds : ndarray
    length_slope : float
        Per unit of ``log(1 + length)``.
    levels : tuple of float
    prompt_effects : ndarray
    """

    grades: pd.DataFrame
    truth: pd.DataFrame
    thresholds: np.ndarray
    length_slope: float
    levels: tuple
    prompt_effects: np.ndarray


def level_probabilities(eta: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``P(Y = k)`` of a cumulative logit for each linear predictor, shape ``(n, K)``."""
    eta = np.asarray(eta, dtype=float)
    cum = expit(np.asarray(thresholds)[None, :] - eta[:, None])
    ones = np.ones((len(eta), 1))
    return np.diff(np.hstack([0 * ones, cum, ones]), axis=1)


def _draw(latent: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(thresholds), latent)  # level index: count of cuts below


def simulate_grades(
    *,
    n_models: int = 5,
    n_prompts: int = 200,
    levels=tuple(range(1, 11)),
    thresholds=DEFAULT_THRESHOLDS_10,
    model_effects=None,
    length_slope: float = 0.8,
    length_bias=None,
    prompt_sd: float = 0.0,
    length_sd: float = 0.4,
    base_length: float = 1200.0,
    judge: str = "simulated_grader",
    seed: int = 0,
) -> GradeSimulation:
    """Single-answer grades from a judge with known cut points and grade-length slope.

    Every model answers every prompt once. ``model_effects`` default to evenly spaced
    values from -1 to 1; ``length_bias`` (per model, log scale) default to
    ``0.5 * model_effects`` reversed (weaker models write longer, so a length-biased
    judge flatters them).
    """
    check_param("n_models", n_models, "an int >= 2", isinstance(n_models, int) and n_models >= 2)
    check_param(
        "n_prompts", n_prompts, "an int >= 2", isinstance(n_prompts, int) and n_prompts >= 2
    )
    thresholds = np.asarray(thresholds, dtype=float)
    levels = tuple(float(v) for v in levels)
    check_param(
        "thresholds",
        thresholds.tolist(),
        f"{len(levels) - 1} increasing cut points (one fewer than levels=)",
        thresholds.shape == (len(levels) - 1,) and bool(np.all(np.diff(thresholds) > 0)),
    )
    rng = np.random.default_rng(seed)
    effects = (
        np.linspace(-1, 1, n_models) if model_effects is None else np.asarray(model_effects, float)
    )
    bias = -0.5 * effects if length_bias is None else np.asarray(length_bias, float)
    models = [f"model_{i}" for i in range(n_models)]
    u = rng.normal(0, prompt_sd, n_prompts) if prompt_sd > 0 else np.zeros(n_prompts)
    a = rng.normal(0, 0.5, n_prompts)
    m_idx = np.repeat(np.arange(n_models), n_prompts)
    p_idx = np.tile(np.arange(n_prompts), n_models)
    log_len = np.log(base_length) + bias[m_idx] + a[p_idx] + rng.normal(0, length_sd, len(m_idx))
    length = np.maximum(np.round(np.exp(log_len)), 1.0)
    x_raw = np.log1p(length)
    ref = pd.Series(x_raw).groupby(p_idx).transform("median").to_numpy()
    x = x_raw - ref
    latent = effects[m_idx] + length_slope * x + u[p_idx] + rng.logistic(size=len(m_idx))
    grade = np.asarray(levels)[_draw(latent, thresholds)]
    grades = pd.DataFrame(
        {
            "judge": judge,
            "prompt": [f"p{i:04d}" for i in p_idx],
            "model": [models[i] for i in m_idx],
            "grade": grade,
            "length": length.astype(int),
        }
    )
    values = np.asarray(levels)
    controlled = [float((level_probabilities(e + u, thresholds) @ values).mean()) for e in effects]
    nodes, w = np.polynomial.hermite_e.hermegauss(40)  # E over u ~ N(0, prompt_sd)
    w = w / w.sum()
    population = [
        float(w @ (level_probabilities(e + prompt_sd * nodes, thresholds) @ values))
        for e in effects
    ]
    truth = pd.DataFrame(
        {
            "model": models,
            "effect": effects,
            "controlled_grade": controlled,
            "controlled_grade_population": population,
        }
    )
    return GradeSimulation(grades, truth, thresholds, float(length_slope), levels, u)


@dataclass(frozen=True)
class GradedVerdictSimulation:
    """Simulated pairwise levels and the parameters that drew them.

    Attributes
    ----------
    battles : pandas.DataFrame
        ``judge, prompt, model_a, model_b, level`` (label), ``length_a, length_b``.
    truth_strengths : pandas.Series
        Per model, the anchor (first model) at 0.
    thresholds : ndarray
    style_slope : float
    labels : tuple of str
        Lowest level (B much better) first.
    """

    battles: pd.DataFrame
    truth_strengths: pd.Series
    thresholds: np.ndarray
    style_slope: float
    labels: tuple


ARENA_HARD_LABELS_LOW_FIRST = ("B>>A", "B>A", "A=B", "A>B", "A>>B")


def simulate_graded_verdicts(
    *,
    n_models: int = 3,
    n_prompts: int = 300,
    strengths=None,
    thresholds=(-2.5, -0.7, 0.7, 2.5),
    style_slope: float = 1.0,
    labels=ARENA_HARD_LABELS_LOW_FIRST,
    judge: str = "simulated_judge",
    seed: int = 0,
) -> GradedVerdictSimulation:
    """Every model against the first (the anchor) on every prompt, one level per battle.

    Examples
    --------
    >>> sim = simulate_graded_verdicts(n_prompts=20, seed=0)
    >>> sim.battles.columns.tolist()
    ['judge', 'prompt', 'model_a', 'model_b', 'level', 'length_a', 'length_b']
    """
    thresholds = np.asarray(thresholds, dtype=float)
    check_param(
        "thresholds",
        thresholds.tolist(),
        f"{len(labels) - 1} increasing cut points",
        thresholds.shape == (len(labels) - 1,) and bool(np.all(np.diff(thresholds) > 0)),
    )
    rng = np.random.default_rng(seed)
    s = np.linspace(0, -1, n_models) if strengths is None else np.asarray(strengths, float)
    models = [f"model_{i}" for i in range(n_models)]
    others = np.repeat(np.arange(1, n_models), n_prompts)
    p_idx = np.tile(np.arange(n_prompts), n_models - 1)
    len_anchor = np.exp(rng.normal(np.log(1500), 0.4, len(others)))
    len_other = np.exp(rng.normal(np.log(1500) - 0.4 * s[others], 0.4, len(others)))
    style = (len_other - len_anchor) / (len_other + len_anchor)
    latent = s[others] - s[0] + style_slope * style + rng.logistic(size=len(others))
    level = np.asarray(labels)[_draw(latent, thresholds)]
    battles = pd.DataFrame(
        {
            "judge": judge,
            "prompt": [f"p{i:04d}" for i in p_idx],
            "model_a": [models[i] for i in others],
            "model_b": models[0],
            "level": level,
            "length_a": np.round(len_other).astype(int),
            "length_b": np.round(len_anchor).astype(int),
        }
    )
    truth = pd.Series(s - s[0], index=models, name="strength")
    return GradedVerdictSimulation(battles, truth, thresholds, float(style_slope), tuple(labels))
