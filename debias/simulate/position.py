"""Simulated judges with known position bias, self-preference and length slope.

:func:`simulate_judges` draws an MT-Bench-like design: every model against a fixed
baseline on every prompt, **in both orders**, graded by several judges of different
families. For judge ``j`` and the call showing answer A first::

    logit P(A wins) = (θ_A − θ_B) + position[j]·(+1)
                      + self_preference[j]·(own_j(A) − own_j(B))
                      + length[j]·(len_A − len_B)/(len_A + len_B + 1)

(``own_j(m)`` = 1 when model ``m`` is of judge ``j``'s family, as named by
:func:`debias.judgments.families.model_family`). A tie is drawn with probability
``2·tie_rate·min(p, 1 − p)`` and a win with ``p − tie_rate·min(p, 1 − p)``, so that
E[outcome] = p exactly with ties as ½: the battle fit of
:func:`debias.reports.judges.fit_judges` is correctly specified and consistent for
every coefficient above. Answers (and their lengths) are drawn once per (model,
prompt) and shared by both orders and every judge.

Examples
--------
>>> sim = simulate_judges(n_models=3, n_prompts=10, seed=0)
>>> len(sim.battles), sorted(sim.battles["shown_first"].unique())
(120, ['a'])
>>> sim.truth["position"]
{'gpt-judge': 0.4, 'claude-judge': -0.2}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.errors import ParameterError
from debias.judgments.families import model_family

__all__ = ["JudgeSimulation", "simulate_judges"]

DEFAULT_JUDGES = ("gpt-judge", "claude-judge")
_MODEL_STEMS = ("gpt-sim", "claude-sim", "llama-sim", "mistral-sim", "qwen-sim")


@dataclass(frozen=True)
class JudgeSimulation:
    """Battle rows (both orders, every judge) and the true coefficients.

    Attributes
    ----------
    battles : pandas.DataFrame
        ``judge, prompt, turn, model_a, model_b, outcome, weight, shown_first, pair,
        length_a, length_b`` (A is shown first).
    truth : dict
        ``strengths`` (model -> θ, baseline 0), ``position``, ``self_preference``,
        ``length`` (judge -> coefficient), ``families`` (name -> family).
    """

    battles: pd.DataFrame
    truth: dict


def _per_judge(name: str, value, judges, default) -> dict[str, float]:
    if value is None:
        value = default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = dict.fromkeys(judges, float(value))
    if not isinstance(value, Mapping) or set(value) != set(judges):
        raise ParameterError(
            f"The '{name}' parameter must be a number or a dict with one value per judge "
            f"{list(judges)}. Got {value!r}."
        )
    out = {j: float(value[j]) for j in judges}
    if not all(np.isfinite(v) for v in out.values()):
        raise ParameterError(f"The '{name}' parameter must hold finite numbers. Got {value!r}.")
    return out


def simulate_judges(
    *,
    n_models: int = 6,
    n_prompts: int = 80,
    judges=DEFAULT_JUDGES,
    position=None,
    self_preference=None,
    length=None,
    tie_rate: float = 0.2,
    strength_sd: float = 0.7,
    answer_sd: float = 0.0,
    baseline: str = "vicuna-sim-base",
    seed: int = 0,
) -> JudgeSimulation:
    """Simulate judges with known position bias, self-preference and length slope.

    Parameters
    ----------
    n_models : int, default 6
        Models besides the baseline, named after families in turn (``gpt-sim-0``,
        ``claude-sim-1``, ``llama-sim-2``, ...).
    n_prompts : int, default 80
    judges : sequence of str, default ("gpt-judge", "claude-judge")
        Judge names; their families come from :func:`model_family`.
    position, self_preference, length : float or dict judge -> float, optional
        True coefficients (log-odds). Defaults: position {first: 0.4, second: −0.2,
        others 0.1}, self-preference 0.5, length 0.8.
    tie_rate : float in [0, 1], default 0.2
    strength_sd : float, default 0.7
        SD of the models' true strengths θ (baseline 0).
    answer_sd : float, default 0.0
        SD of a per-answer quality u ~ Normal(0, answer_sd) added to θ of that answer and
        shared by both orders and every judge: calls on a prompt are then correlated. With
        ``answer_sd > 0`` the coefficients above are conditional on u; the battle fit
        estimates marginal (attenuated) ones, equal across judges with equal coefficients.
    baseline : str
    seed : int

    Returns
    -------
    JudgeSimulation
    """
    if not isinstance(n_models, int) or n_models < 1:
        raise ParameterError(f"The 'n_models' parameter must be an int >= 1. Got {n_models!r}.")
    if not isinstance(n_prompts, int) or n_prompts < 2:
        raise ParameterError(f"The 'n_prompts' parameter must be an int >= 2. Got {n_prompts!r}.")
    if not (isinstance(answer_sd, (int, float)) and answer_sd >= 0):
        raise ParameterError(f"The 'answer_sd' parameter must be >= 0. Got {answer_sd!r}.")
    if not (isinstance(tie_rate, (int, float)) and 0 <= tie_rate <= 1):
        raise ParameterError(f"The 'tie_rate' parameter must be in [0, 1]. Got {tie_rate!r}.")
    judges = tuple(judges)
    if not judges or len(set(judges)) != len(judges):
        raise ParameterError(f"The 'judges' parameter must name distinct judges. Got {judges!r}.")
    default_pos = {j: (0.4 if i == 0 else -0.2 if i == 1 else 0.1) for i, j in enumerate(judges)}
    pos = _per_judge("position", position, judges, default_pos)
    sp = _per_judge("self_preference", self_preference, judges, 0.5)
    ln = _per_judge("length", length, judges, 0.8)
    rng = np.random.default_rng(seed)
    models = [f"{_MODEL_STEMS[i % len(_MODEL_STEMS)]}-{i}" for i in range(n_models)]
    theta = dict(zip(models, rng.normal(0.0, strength_sd, n_models), strict=True))
    theta[baseline] = 0.0
    verbosity = dict(zip(models, rng.normal(0.0, 0.4, n_models), strict=True))
    verbosity[baseline] = 0.0
    names = [*models, baseline]
    families = {n: model_family(n) for n in [*names, *judges]}

    # one answer length per (model, prompt), shared by both orders and every judge
    length_of = {m: np.round(np.exp(rng.normal(6.0 + verbosity[m], 0.5, n_prompts))) for m in names}
    prompt = np.tile(np.arange(n_prompts), n_models * 2)
    model = np.repeat(np.array(models), n_prompts * 2)
    a_is_model = np.tile(np.repeat([True, False], n_prompts), n_models)
    model_a = np.where(a_is_model, model, baseline)
    model_b = np.where(a_is_model, baseline, model)
    len_m = np.concatenate([np.tile(length_of[m], 2) for m in models])
    len_base = np.tile(length_of[baseline], 2 * n_models)
    len_a = np.where(a_is_model, len_m, len_base)
    len_b = np.where(a_is_model, len_base, len_m)
    th = np.array([theta[m] for m in models])
    theta_m = np.repeat(th, n_prompts * 2)
    if answer_sd > 0:  # drawn only then: the default (answer_sd=0) keeps its draws
        u = {m: rng.normal(0.0, answer_sd, n_prompts) for m in names}
        u_model = np.concatenate([np.tile(u[m], 2) for m in models])
        theta_m = theta_m + u_model - np.tile(u[baseline], 2 * n_models)
    diff = np.where(a_is_model, theta_m, -theta_m)
    parts = []
    for j in judges:
        own_a = np.array([families[m] == families[j] for m in model_a], float)
        own_b = np.array([families[m] == families[j] for m in model_b], float)
        eta = (
            diff + pos[j] + sp[j] * (own_a - own_b) + ln[j] * (len_a - len_b) / (len_a + len_b + 1)
        )
        p = expit(eta)
        m_ = np.minimum(p, 1 - p)
        u = rng.random(len(p))
        p_win = p - tie_rate * m_
        p_tie = 2 * tie_rate * m_
        outcome = np.where(u < p_win, 1.0, np.where(u < p_win + p_tie, 0.5, 0.0))
        parts.append(
            pd.DataFrame(
                {
                    "judge": j,
                    "prompt": [f"p{i}" for i in prompt],
                    "turn": 1,
                    "model_a": model_a,
                    "model_b": model_b,
                    "outcome": outcome,
                    "weight": 1.0,
                    "shown_first": "a",
                    "length_a": len_a,
                    "length_b": len_b,
                }
            )
        )
    battles = pd.concat(parts, ignore_index=True)
    low = np.minimum(battles["model_a"], battles["model_b"])
    high = np.maximum(battles["model_a"], battles["model_b"])
    battles.insert(8, "pair", pd.factorize(battles["judge"] + "\0" + low + "\0" + high)[0])
    truth = {
        "strengths": theta,
        "position": pos,
        "self_preference": sp,
        "length": ln,
        "families": families,
    }
    return JudgeSimulation(battles, truth)
