"""A simulated Chatbot Arena: battles between any two models with known strengths and style effects.

:func:`simulate_arena` draws Arena-like battles (millions in a few seconds) from a
Bradley–Terry judge whose strengths and style effects are known exactly, so every any-pair
estimator (:mod:`debias.battles`, the compatibility presets, the scale benchmark) can be
checked against the truth.

The judge model
---------------
For a battle between model ``a`` (answer A) and model ``b`` on prompt ``x``::

    η = θ_a − θ_b + Σ_f β_f · (f_a − f_b) / (f_a + f_b + 1)

over the style features ``f`` (``tokens``, ``headers``, ``lists``, ``bold``: Arena's four),
the "difference over sum plus one" transform of Chatbot Arena's style control, **unscaled**:
``truth_style`` holds the ``β_f`` per unit of that transform (data independent), and
:meth:`ArenaSimulation.truth_style_scaled` the same effects per standard deviation of the
covariate in the simulated battles (what an estimator fitted on SD-scaled, uncentred
covariates recovers). ``θ`` sums to zero over the models.

Verdicts (``tie_model``):

- ``"constant"``: a tie with probability ``tie_rate``, otherwise A wins with probability
  ``σ(η)``. A ties-as-½ Bradley–Terry fit is then not exactly consistent for ``θ`` (the
  expected outcome ``tie_rate/2 + (1 − tie_rate)·σ(η)`` is not logistic); with
  ``tie_rate=0`` (the default) it is.
- ``"davidson"``: Davidson's tie model, P(A) ∝ exp(η/2), P(B) ∝ exp(−η/2), P(tie) ∝ ν with
  ``ν = 2·tie_rate / (1 − tie_rate)``, so ``tie_rate`` is the tie rate of two equal answers.

Outcomes are 1 (A wins), 0 (B wins) or 0.5 (tie), one row per battle with weight 1.

Which models meet
-----------------
Pair frequencies are skewed as in Arena (popular and new models are sampled far more
often): the unordered pair ``{a, b}`` is drawn with probability proportional to
``exp(pair_skew · (z_a + z_b + z_ab))`` with ``z ~ N(0, 1)`` per model and per pair;
``pair_skew=0`` makes every pair equally likely. Which model is answer A is a fair coin.
Prompts are drawn uniformly from ``n_prompts`` (the clusters of a prompt-clustered
sandwich or bootstrap); each prompt has its own length and markdown factor shared by both
answers (some prompts call for long, structured answers).

Answers
-------
No texts, only the counts Arena's style control uses, per answer (``<f>_a``, ``<f>_b``):

- ``tokens``: lognormal around the model's verbosity ``mean_tokens`` (log-uniform on
  ``verbosity_range``, correlated with strength through a Gaussian copula,
  ``length_strength_corr``), times the prompt's factor ``exp(N(0, 0.5²))`` and row noise
  ``exp(N(0, 0.4²))`` (mean-one factors);
- ``headers``, ``lists``, ``bold``: Poisson with the model's density per 1,000 tokens
  (gamma across models; means 2, 12 and 6) times the tokens and the prompt's markdown factor.

Examples
--------
>>> from debias.simulate.arena import simulate_arena
>>> sim = simulate_arena(n_models=4, n_prompts=50, n_battles=1_000, seed=0)
>>> sim.battles.columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
['judge', 'prompt', 'turn', 'model_a', 'model_b', 'outcome', 'weight', 'shown_first', 'pair',
 'tokens_a', 'tokens_b', 'headers_a', 'headers_b', 'lists_a', 'lists_b', 'bold_a', 'bold_b']
>>> sim.truth_strengths.round(2)
model
model_0   -0.05
model_1   -0.25
model_2    0.36
model_3   -0.06
Name: strength, dtype: float64
>>> sim.truth_style
{'tokens': 0.8, 'headers': 0.1, 'lists': 0.1, 'bold': 0.1}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from debias.errors import ParameterError, check_param

__all__ = ["ARENA_FEATURES", "ArenaSimulation", "simulate_arena", "style_transform"]

ARENA_FEATURES = ("tokens", "headers", "lists", "bold")
DEFAULT_STYLE_EFFECTS = {"tokens": 0.8, "headers": 0.1, "lists": 0.1, "bold": 0.1}
MARKDOWN_DENSITY = {"headers": 2.0, "lists": 12.0, "bold": 6.0}  # per 1,000 tokens, mean
JUDGE = "simulated_arena"
PROMPT_LENGTH_SD = 0.5
ROW_LENGTH_SD = 0.4


def style_transform(a, b) -> np.ndarray:
    """Arena's pairwise style covariate ``(a − b) / (a + b + 1)`` (unscaled).

    Examples
    --------
    >>> style_transform([300, 0], [100, 0])
    array([0.49875312, 0.        ])
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return (a - b) / (a + b + 1.0)


@dataclass(frozen=True)
class ArenaSimulation:
    """Battles drawn by :func:`simulate_arena` with the truth that drew them.

    Attributes
    ----------
    battles : pandas.DataFrame
        One row per battle in the shape of :meth:`Judgments.battles()
        <debias.judgments.Judgments.battles>`: ``judge, prompt, turn, model_a, model_b,
        outcome, weight, shown_first, pair`` plus ``<f>_a, <f>_b`` per feature
        (``model_a``/``model_b``/``prompt``/``judge`` categorical, counts int32).
    truth_strengths : pandas.Series
        θ per model (index: model), summing to zero.
    truth_style : dict
        β per feature, per unit of the unscaled ``(a − b) / (a + b + 1)`` covariate.
    features : tuple of str
        The style features, in column order.
    models : pandas.DataFrame
        Per model: ``model, strength, mean_tokens`` and the markdown densities
        (``<f>_per_1k``), ``popularity`` (its ``z``) and ``n_battles``.
    tie_rate, tie_model, seed
        The settings that drew the verdicts.
    """

    battles: pd.DataFrame
    truth_strengths: pd.Series
    truth_style: dict[str, float]
    features: tuple[str, ...]
    models: pd.DataFrame = field(repr=False)
    tie_rate: float = 0.0
    tie_model: str = "constant"
    seed: int | None = None

    def covariates(self) -> pd.DataFrame:
        """The unscaled style covariates ``(f_a − f_b) / (f_a + f_b + 1)``, one column per feature."""
        b = self.battles
        return pd.DataFrame(
            {f: style_transform(b[f"{f}_a"], b[f"{f}_b"]) for f in self.features}, index=b.index
        )

    def truth_style_scaled(self, ddof: int = 0) -> dict[str, float]:
        """β per standard deviation of each covariate in these battles (SD with ``ddof``).

        What a fit on uncentred covariates divided by their SD recovers.
        """
        sd = self.covariates().std(ddof=ddof)
        return {f: float(self.truth_style[f] * sd[f]) for f in self.features}

    def linear_predictor(self) -> np.ndarray:
        """η per battle: θ_a − θ_b + Σ β_f · covariate_f."""
        b = self.battles
        theta = self.truth_strengths
        eta = (
            theta.reindex(b["model_a"].astype(str)).to_numpy()
            - theta.reindex(b["model_b"].astype(str)).to_numpy()
        )
        x = self.covariates()
        for f in self.features:
            eta = eta + self.truth_style[f] * x[f].to_numpy()
        return eta

    def probabilities(self) -> pd.DataFrame:
        """P(A wins), P(tie), P(B wins) per battle under the truth."""
        return pd.DataFrame(
            _verdict_probabilities(self.linear_predictor(), self.tie_rate, self.tie_model),
            columns=["p_a", "p_tie", "p_b"],
            index=self.battles.index,
        )


def _verdict_probabilities(eta: np.ndarray, tie_rate: float, tie_model: str) -> np.ndarray:
    if tie_model == "davidson":
        nu = 2.0 * tie_rate / (1.0 - tie_rate)
        half = np.exp(-np.abs(eta) / 2.0)  # stable: divide through by exp(|η|/2)
        big = np.ones_like(eta)
        den = big + half * half + nu * half
        p_hi = big / den
        p_lo = half * half / den
        p_a = np.where(eta >= 0, p_hi, p_lo)
        p_b = np.where(eta >= 0, p_lo, p_hi)
        return np.column_stack([p_a, nu * half / den, p_b])
    p = expit(eta)
    return np.column_stack(
        [(1 - tie_rate) * p, np.full_like(p, tie_rate), (1 - tie_rate) * (1 - p)]
    )


def _check_int(name: str, value, low: int) -> None:
    ok = isinstance(value, Integral) and not isinstance(value, bool) and value >= low
    check_param(name, value, f"an int >= {low}", ok)


def _check_real(name: str, value, low: float, high: float = math.inf, *, open_high=False) -> None:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and low <= value and (value < high if open_high else value <= high)
    bracket = ")" if open_high else "]"
    check_param(name, value, f"a finite number in [{low}, {high}{bracket}", ok)


def _check_settings(n_models, n_prompts, n_battles, style_effects, pair_skew, tie_rate, tie_model,
                    strength_sd, verbosity_range, length_strength_corr) -> dict[str, float]:  # fmt: skip
    _check_int("n_models", n_models, 2)
    if n_prompts is not None:
        _check_int("n_prompts", n_prompts, 1)
    _check_int("n_battles", n_battles, 1)
    _check_real("pair_skew", pair_skew, 0.0, 5.0)
    _check_real("tie_rate", tie_rate, 0.0, 1.0, open_high=True)
    _check_real("strength_sd", strength_sd, 0.0, 10.0)
    _check_real("length_strength_corr", length_strength_corr, -1.0, 1.0)
    check_param(
        "tie_model", tie_model, '"constant" or "davidson"', tie_model in ("constant", "davidson")
    )
    ok = (
        isinstance(verbosity_range, tuple | list)
        and len(verbosity_range) == 2
        and all(isinstance(v, Real) and math.isfinite(v) for v in verbosity_range)
        and 0 < verbosity_range[0] <= verbosity_range[1]
    )
    check_param("verbosity_range", verbosity_range, "a pair (low, high) with 0 < low <= high", ok)
    if style_effects is None:
        return dict(DEFAULT_STYLE_EFFECTS)
    if not isinstance(style_effects, Mapping) or not style_effects:
        raise ParameterError(
            "The 'style_effects' parameter must be a non-empty dict {feature: effect} with "
            f"features among {list(ARENA_FEATURES)}. Got {style_effects!r} instead."
        )
    unknown = [f for f in style_effects if f not in ARENA_FEATURES]
    if unknown:
        raise ParameterError(
            f"style_effects= names unknown feature(s) {unknown}; the simulated answers have "
            f"{list(ARENA_FEATURES)}."
        )
    for f, beta in style_effects.items():
        _check_real(f"style_effects[{f!r}]", beta, -20.0, 20.0)
    return {f: float(style_effects.get(f, 0.0)) for f in ARENA_FEATURES}


def _draw_pairs(rng, n_models: int, n_battles: int, pair_skew: float):
    """(a, b, pair id) codes: unordered pairs drawn with skewed weights, A/B order a fair coin."""
    hi, lo = np.triu_indices(n_models, k=1)
    z_model = rng.standard_normal(n_models)
    log_w = pair_skew * (z_model[hi] + z_model[lo] + rng.standard_normal(hi.size))
    w = np.exp(log_w - log_w.max())
    cdf = np.cumsum(w)
    pair = np.searchsorted(cdf, rng.random(n_battles) * cdf[-1], side="right")
    pair = np.minimum(pair, hi.size - 1).astype(np.int32)
    swap = rng.random(n_battles) < 0.5
    a = np.where(swap, lo[pair], hi[pair]).astype(np.int32)
    b = np.where(swap, hi[pair], lo[pair]).astype(np.int32)
    return a, b, pair, z_model


def simulate_arena(
    *,
    n_models: int = 20,
    n_prompts: int | None = None,
    n_battles: int = 20_000,
    style_effects: Mapping[str, float] | None = None,
    pair_skew: float = 1.0,
    tie_rate: float = 0.0,
    tie_model: str = "constant",
    strength_sd: float = 0.8,
    verbosity_range: tuple[float, float] = (150.0, 900.0),
    length_strength_corr: float = 0.3,
    seed: int | None = 0,
) -> ArenaSimulation:
    """Draw Arena-style battles between any two of ``n_models`` models with known truth.

    Vectorised: 3,000,000 battles between 250 models with 4 features take a few seconds
    and well under 1 GB (see the module docstring for the model).

    Parameters
    ----------
    n_models : int
        Number of models (``model_0``, ``model_1``, ...).
    n_prompts : int, optional
        Number of distinct prompts (clusters); default ``max(1, n_battles // 5)``.
    n_battles : int
        Number of battles (rows).
    style_effects : dict, optional
        ``{feature: β}`` per unit of the unscaled ``(a − b) / (a + b + 1)`` covariate, features
        among ``tokens, headers, lists, bold`` (those not given have no effect; all four are
        always simulated and written); default
        ``{"tokens": 0.8, "headers": 0.1, "lists": 0.1, "bold": 0.1}`` (per SD about 0.3
        and 0.02–0.04, the order of Chatbot Arena's published coefficients).
    pair_skew : float
        Skew of the pair frequencies (0 = uniform; 1 = some pairs tens of times more frequent).
    tie_rate : float
        Probability of a tie (``tie_model="constant"``) or of a tie between equal answers
        (``"davidson"``); in [0, 1).
    tie_model : {"constant", "davidson"}
        How ties are drawn (module docstring).
    strength_sd : float
        SD of the strengths θ (logits) before centring.
    verbosity_range : (float, float)
        Range of the models' mean token counts (log-uniform).
    length_strength_corr : float
        Gaussian-copula correlation between strength and verbosity.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    ArenaSimulation

    Examples
    --------
    >>> sim = simulate_arena(n_models=3, n_battles=6, style_effects={"tokens": 1.0}, seed=2)
    >>> sim.battles[["model_a", "model_b", "outcome", "tokens_a", "tokens_b"]]
       model_a  model_b  outcome  tokens_a  tokens_b
    0  model_1  model_2      1.0       359       561
    1  model_1  model_2      1.0       663       210
    2  model_1  model_2      0.0       409       395
    3  model_2  model_1      0.0       630       731
    4  model_1  model_2      0.0       213       384
    5  model_1  model_2      0.0       706       554
    """
    style = _check_settings(n_models, n_prompts, n_battles, style_effects, pair_skew, tie_rate,
                            tie_model, strength_sd, verbosity_range, length_strength_corr)  # fmt: skip
    if n_prompts is None:
        n_prompts = max(1, n_battles // 5)
    features = tuple(style)
    rng = np.random.default_rng(seed)
    names = [f"model_{i}" for i in range(n_models)]

    # models: strength, verbosity (copula-correlated), markdown densities
    z_strength = rng.standard_normal(n_models)
    z_len = length_strength_corr * z_strength + math.sqrt(
        1 - length_strength_corr**2
    ) * rng.standard_normal(n_models)
    theta = strength_sd * z_strength
    theta = theta - theta.mean()
    lo, hi = np.log(verbosity_range[0]), np.log(verbosity_range[1])
    mean_tokens = np.exp(lo + (hi - lo) * ndtr(z_len))
    density = {f: rng.gamma(2.0, MARKDOWN_DENSITY[f] / 2.0, n_models) for f in MARKDOWN_DENSITY}

    a, b, pair, popularity = _draw_pairs(rng, n_models, n_battles, pair_skew)
    prompt = rng.integers(0, n_prompts, n_battles, dtype=np.int32)
    prompt_len = np.exp(PROMPT_LENGTH_SD * rng.standard_normal(n_prompts) - PROMPT_LENGTH_SD**2 / 2)
    prompt_md = np.exp(0.5 * rng.standard_normal(n_prompts) - 0.125)

    counts: dict[str, np.ndarray] = {}
    tokens = {}
    for side, m in (("a", a), ("b", b)):
        noise = np.exp(ROW_LENGTH_SD * rng.standard_normal(n_battles) - ROW_LENGTH_SD**2 / 2)
        tokens[side] = np.maximum(1, np.rint(mean_tokens[m] * prompt_len[prompt] * noise))
        counts[f"tokens_{side}"] = tokens[side].astype(np.int32)
    for f in ("headers", "lists", "bold"):
        for side, m in (("a", a), ("b", b)):
            lam = density[f][m] * tokens[side] / 1000.0 * prompt_md[prompt]
            counts[f"{f}_{side}"] = rng.poisson(lam).astype(np.int32)

    eta = theta[a] - theta[b]
    for f in features:
        eta = eta + style[f] * style_transform(counts[f"{f}_a"], counts[f"{f}_b"])
    probs = _verdict_probabilities(eta, tie_rate, tie_model)
    u = rng.random(n_battles)
    outcome = np.where(u < probs[:, 0], 1.0, np.where(u < probs[:, 0] + probs[:, 1], 0.5, 0.0))

    model_cat = pd.CategoricalDtype(names)
    width = len(str(n_prompts - 1))
    prompt_names = pd.Categorical.from_codes(
        prompt, pd.Index([f"p{i:0{width}d}" for i in range(n_prompts)])
    )
    frame = pd.DataFrame(
        {
            "judge": pd.Categorical.from_codes(np.zeros(n_battles, np.int8), [JUDGE]),
            "prompt": prompt_names,
            "turn": np.ones(n_battles, np.int8),
            "model_a": pd.Categorical.from_codes(a, dtype=model_cat),
            "model_b": pd.Categorical.from_codes(b, dtype=model_cat),
            "outcome": outcome,
            "weight": np.ones(n_battles),
            "shown_first": pd.Categorical.from_codes(np.zeros(n_battles, np.int8), ["a"]),
            "pair": pair,
        }
    )
    for f in features:
        frame[f"{f}_a"] = counts[f"{f}_a"]
        frame[f"{f}_b"] = counts[f"{f}_b"]
    truth = pd.Series(theta, index=pd.Index(names, name="model"), name="strength")
    n_per_model = np.bincount(a, minlength=n_models) + np.bincount(b, minlength=n_models)
    models = pd.DataFrame(
        {
            "model": names,
            "strength": theta,
            "mean_tokens": mean_tokens,
            **{f"{f}_per_1k": density[f] for f in density},
            "popularity": popularity,
            "n_battles": n_per_model,
        }
    )
    return ArenaSimulation(
        battles=frame,
        truth_strengths=truth,
        truth_style=style,
        features=features,
        models=models,
        tie_rate=float(tie_rate),
        tie_model=tie_model,
        seed=seed,
    )
