"""Simulate an LLM judge with known length and markdown biases.

:func:`simulate` draws an AlpacaEval-like evaluation (a fixed baseline, many
models, one judgment per instruction) from a judge whose biases are known
exactly, and returns the judgments together with the ground truth.
:func:`write_alpaca_eval_tree` writes it in the published AlpacaEval file
layout so readers, estimators and the command line can be tested end to end.

The judge model
---------------
For model ``m`` against the baseline ``b`` on instruction ``x``::

    logit P(judge prefers m) = (θ_m − θ_b) + ψ_m·γ_x
                               + β_len · tanh(Δlen_x / SD_m)
                               + β_md · (md_m,x − md_b,x) / markdown_scale
                               + position_bias · (+1 if m's answer is shown first, −1 if second)

- ``θ_m`` is the model's strength (``θ_b = 0``); ``ψ_m`` its slope on the
  instruction difficulty ``γ_x ~ Normal(0, difficulty_sd)`` (``ψ_m = 1`` unless
  given per model; the baseline's is 0, as every term is a difference to it).
- ``Δlen_x = len(model output) − len(baseline output)`` in characters and
  ``SD_m`` the sample SD (ddof 1) of ``Δlen`` over the model's rows in the data
  (after dropped rows and empty outputs; 1 if that SD is 0 or undefined). This
  is exactly the reference's ``tanh(std_delta_len)`` feature with the opposite
  sign (the reference uses ``len_b − len_m``), so an estimator of that form is
  consistent for ``β_len``.
- ``md`` = markdown headers + list items + bold spans in the text (the
  simulated texts have no code fences; by definition their content would not
  count).
- The order in which the judge saw the two answers is random (50/50) and
  recorded in :attr:`Simulation.features` (``model_first``).

``p`` is drawn into a preference: ``soft=True`` gives a Beta draw with mean
``p`` and concentration ``soft_concentration`` (``Beta(κp, κ(1−p))``, so
``E[preference] = p``, like a judge's log-probabilities); ``soft=False`` a hard
Bernoulli(p) verdict in {0, 1}. The baseline against itself is a tie (0.5)
without asking the judge, as AlpacaEval does for identical outputs.

Lengths and markdown
--------------------
Output lengths are lognormal: ``len = mean_length_m · exp(a_x + e − var/2)``
with a per-instruction factor ``a_x ~ N(0, instruction_length_sd)`` shared by
all models (some instructions need long answers) and row noise
``e ~ N(0, length_sd)``; so ``mean_length_m`` is the model's expected length.
By default mean lengths are log-uniform on ``length_range`` (~800–3,000
characters; the baseline's is 2,000), and mildly correlated with strength
(Gaussian-copula correlation ``length_strength_corr = 0.3``), as on the real
leaderboard. Markdown elements are Poisson with ``markdown_density_m``
elements per 1,000 characters, split into headers, list items and bold spans
(``markdown_mix``), at most ``len // cap`` of them so they fit in the text.

The text is real: sentences of pseudo-words with ``## Title`` headers,
``- item`` list items and ``**bold**`` spans, exactly ``len`` characters long
and with exactly the designed counts (see :attr:`Simulation.features`).

Ground truth
------------
``true_lc_win_rate`` = 100 × E_γ[σ(θ_m − θ_b + ψ_m·γ)], γ ~ N(0, difficulty_sd):
the population win rate with lengths, markdown and position equalised
(Gauss–Hermite quadrature). ``true_lc_win_rate_sample`` averages the same over
the simulated instructions, which is what the reference's LC estimates.
``true_win_rate`` = 100 × mean of the ``p`` that drew the model's preferences
(rows with a preference), the expectation of the raw win rate.

Examples
--------
>>> from debias.simulate import simulate
>>> sim = simulate(n_models=3, n_instructions=50, seed=1)
>>> sim.comparisons
Comparisons(200 judgments, 4 models, baselines=['baseline'], judges=['simulated_judge'], source='simulate(seed=1)')
>>> sim.truth[["model", "mean_length", "true_lc_win_rate", "true_win_rate"]].round(1)
      model  mean_length  true_lc_win_rate  true_win_rate
0  baseline       2000.0              50.0           50.0
1   model_0        840.3              28.5           17.6
2   model_1       2781.5              15.0           22.6
3   model_2       2863.0              62.8           75.9

The short model_0 loses ~11 points to the judge's length bias; the long ones gain.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit, ndtr, ndtri

from debias.data import Comparisons
from debias.errors import DataWarning, ParameterError, check_param

__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_JUDGE",
    "Simulation",
    "annotation_records",
    "baseline_outputs",
    "population_lc_win_rate",
    "simulate",
    "write_alpaca_eval_tree",
]

DEFAULT_JUDGE = "simulated_judge"
DEFAULT_BASELINE = "baseline"
#: AlpacaEval's sub-collections and their shares of the 805 instructions.
DATASETS: dict[str, float] = {
    "helpful_base": 129 / 805,
    "koala": 156 / 805,
    "oasst": 188 / 805,
    "selfinstruct": 252 / 805,
    "vicuna": 80 / 805,
}
MIN_LENGTH = 4
MAX_LENGTH = 16_000
_QUADRATURE_NODES = 80

# Stream keys: each part of the simulation has its own random stream, so changing
# one setting (say the baseline's length) leaves the others' draws unchanged.
_S_INSTRUCTIONS, _S_PARAMS, _S_BASELINE, _S_MODEL, _S_JUDGE, _S_ROWS = range(1, 7)


# =====================================================================================
# Result
# =====================================================================================
@dataclass(frozen=True, eq=False)
class Simulation:
    """A simulated evaluation and its ground truth.

    Attributes
    ----------
    comparisons : Comparisons
        The judgments (baseline against itself first, then each model), with
        the canonical instruction order attached.
    truth : pandas.DataFrame
        One row per model including the baseline: ``model, theta, psi,
        length_effect, markdown_effect, mean_length, markdown_density, n,
        avg_length, sd_delta_length, true_lc_win_rate, true_lc_win_rate_sample,
        true_win_rate`` (see the module docstring).
    difficulty : pandas.Series
        The per-instruction γ, indexed by instruction text, in canonical order
        (name ``instruction_difficulty``).
    instructions : pandas.DataFrame
        The evaluation set in canonical order: ``instruction, dataset,
        difficulty, output_baseline, length_baseline, markdown_baseline``.
    params : dict
        Every setting used, the seed's entropy and the model names; enough to
        rerun the simulation.
    features : pandas.DataFrame
        One row per row of ``comparisons.data`` (same order): the designed
        ``length_*``, ``headers_*``, ``list_items_*``, ``bold_*``, ``markdown_*``
        of the model's and the baseline's outputs, ``delta_length``,
        ``sd_delta_length``, ``difficulty``, ``model_first`` (the judge saw the
        model's answer first), ``logit`` and ``p`` (the probability that drew
        the preference).

    Examples
    --------
    >>> sim = simulate(n_models=2, n_instructions=10, seed=0)
    >>> sorted(sim.truth.columns)[:3]
    ['avg_length', 'length_effect', 'markdown_density']
    >>> len(sim.features) == len(sim.comparisons)
    True
    """

    comparisons: Comparisons
    truth: pd.DataFrame
    difficulty: pd.Series
    params: dict[str, Any]
    features: pd.DataFrame = field(repr=False)
    instructions: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        p = self.params
        return (
            f"Simulation({len(self.comparisons)} judgments, {p['n_models']} models + baseline "
            f"{p['baseline']!r}, {p['n_instructions']} instructions, judge {p['judge']!r}, "
            f"seed={p['seed']})"
        )


# =====================================================================================
# Pseudo-text building blocks (fixed, independent of the user's seed)
# =====================================================================================
_ONSETS = ("b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr")
_NUCLEI = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "", "", "n", "r", "s", "l", "th")
_POOL_SEED = 8_052_024
_CORPUS_CHARS = 4 * MAX_LENGTH + 200_000


@dataclass(frozen=True)
class _Pools:
    """Cached pieces texts are cut from (see :func:`_pools`)."""

    vocab: tuple[str, ...]
    weights: np.ndarray
    corpus: str
    starts: np.ndarray
    headers: tuple[str, ...]
    items: tuple[str, ...]
    bolds: tuple[str, ...]
    longest_word: int
    cap: int


def _words(rng: np.random.Generator, vocab: Sequence[str], weights: np.ndarray, n: int) -> list:
    return [vocab[i] for i in rng.choice(len(vocab), size=n, p=weights)]


def _sentence(rng: np.random.Generator, vocab, weights, lo: int, hi: int, end: str = ".") -> str:
    words = _words(rng, vocab, weights, int(rng.integers(lo, hi + 1)))
    return " ".join([words[0].capitalize(), *words[1:]]) + end


@functools.cache
def _pools() -> _Pools:
    """Vocabulary, a long prose corpus and pools of markdown pieces (built once)."""
    rng = np.random.default_rng(_POOL_SEED)
    vocab: dict[str, None] = {}
    while len(vocab) < 2000:
        n_syl = int(rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2]))
        word = (
            "".join(
                _ONSETS[rng.integers(len(_ONSETS))] + _NUCLEI[rng.integers(len(_NUCLEI))]
                for _ in range(n_syl)
            )
            + _CODAS[rng.integers(len(_CODAS))]
        )
        vocab[word] = None
    words = tuple(vocab)
    weights = 1.0 / (np.arange(len(words)) + 10.0)  # Zipf-like frequencies
    weights /= weights.sum()
    sentences, starts, pos = [], [], 0
    while pos < _CORPUS_CHARS:
        s = _sentence(rng, words, weights, 4, 16)
        sentences.append(s)
        starts.append(pos)
        pos += len(s) + 1
    corpus = " ".join(sentences)
    headers = tuple(
        "## "
        + " ".join(w.capitalize() for w in _words(rng, words, weights, int(rng.integers(1, 4))))
        for _ in range(256)
    )
    items = tuple("- " + _sentence(rng, words, weights, 2, 6) for _ in range(512))
    bolds = tuple(
        "**" + " ".join(_words(rng, words, weights, int(rng.integers(1, 3)))) + "**"
        for _ in range(256)
    )
    # Worst case per markdown element: its piece + separators + one prose piece that
    # overshoots its target by a word. ``count <= length // cap`` keeps the intro >= 1.
    longest_piece = max(map(len, headers + items + bolds))
    longest_word = max(map(len, words)) + 1
    cap = longest_piece + 4 + 2 * (longest_word + 2) + 10
    return _Pools(
        words, weights, corpus, np.asarray(starts), headers, items, bolds, longest_word, cap
    )


def _compose(
    length: int, fixed: int, headers: list, items: list, bolds: list, start: int, pools: _Pools
) -> str:
    """One markdown text of exactly ``length`` characters with the given pieces.

    Layout: an intro paragraph, then one section per header (``## Title``, a
    paragraph); bold spans sit inside the paragraphs between prose pieces and
    list items close the sections. ``fixed`` is the number of characters of
    markdown pieces and separators (see :func:`_fixed_chars`); the intro absorbs
    the rounding, so the length is exact.
    """
    corpus = pools.corpus
    if fixed == 0:  # plain prose
        return corpus[start : start + length - 1] + "."
    n_sec = len(headers) + 1
    n_items, n_bold = len(items), len(bolds)
    prose = length - fixed
    n_other = n_sec - 1 + n_bold
    # Every prose piece gets about the same share; overshoot by a word is absorbed
    # by the intro, which keeps at least prose / (n_other + 1) characters.
    target = max(1, prose // (n_other + 1) - pools.longest_word)
    pos = corpus.find(" ", start + prose) + 1

    def take() -> str:
        nonlocal pos
        end = corpus.find(" ", pos + target)
        piece, pos = corpus[pos:end], end + 1
        return piece[0].upper() + piece[1:-1] + "." if len(piece) > 1 else piece

    sections = []
    for k in range(n_sec):
        parts = [headers[k - 1], "\n\n", take()] if k else []
        for bold in bolds[k * n_bold // n_sec : (k + 1) * n_bold // n_sec]:
            parts += [" ", bold, " ", take()]
        block = items[k * n_items // n_sec : (k + 1) * n_items // n_sec]
        if block:
            parts += ["\n\n", "\n".join(block)]
        sections.append("".join(parts))
    body = "\n\n".join(sections)
    n_intro = length - len(body)
    if n_intro < 1:  # pragma: no cover - prevented by the cap on markdown counts
        raise RuntimeError(
            f"cannot fit {n_other + n_items} markdown elements in {length} characters"
        )
    return corpus[start : start + n_intro - 1] + "." + body


def _fixed_chars(split: np.ndarray, picks: list[np.ndarray], pools: _Pools) -> np.ndarray:
    """Characters taken by markdown pieces and their separators, per text.

    A header costs its length + 4 (``"\\n\\n"`` before and after), a bold span its
    length + 2 (spaces), a list item its length + 1 (newline) and every
    non-empty list block 1 more (``"\\n\\n"`` before it, one newline fewer inside).
    """
    n = len(split)
    out = np.zeros(n, dtype=np.int64)
    for j, (pool, extra) in enumerate(((pools.headers, 4), (pools.items, 1), (pools.bolds, 2))):
        lens = np.fromiter(map(len, pool), dtype=np.int64)[picks[j]] + extra
        rows = np.repeat(np.arange(n), split[:, j])
        out += np.bincount(rows, weights=lens, minlength=n).astype(np.int64)
    return out + np.minimum(split[:, 1], split[:, 0] + 1)


# =====================================================================================
# Drawing
# =====================================================================================
@dataclass
class _Outputs:
    """One writer's answers to every instruction (designed features and texts)."""

    length: np.ndarray
    headers: np.ndarray
    items: np.ndarray
    bolds: np.ndarray
    texts: np.ndarray  # object array of str

    @property
    def markdown(self) -> np.ndarray:
        return self.headers + self.items + self.bolds

    def blank(self, rows: np.ndarray) -> None:
        """Make the outputs at positions ``rows`` empty strings (length and counts 0)."""
        for arr in (self.length, self.headers, self.items, self.bolds):
            arr[rows] = 0
        self.texts[rows] = ""


def _draw_outputs(
    rng: np.random.Generator,
    mean_length: float,
    instruction_factor: np.ndarray,
    length_sd: float,
    log_var: float,
    density: float,
    mix: np.ndarray,
    text: bool,
) -> _Outputs:
    """Draw lengths, markdown counts and (if ``text``) the texts of one writer."""
    pools = _pools()
    n = len(instruction_factor)
    log_len = np.log(mean_length) + instruction_factor + length_sd * rng.standard_normal(n)
    length = np.clip(np.rint(np.exp(log_len - log_var / 2)), MIN_LENGTH, MAX_LENGTH).astype(
        np.int64
    )
    total = np.minimum(rng.poisson(density * length / 1000.0), length // pools.cap)
    split = rng.multinomial(total, mix)
    picks = [
        rng.integers(len(pool), size=int(split[:, j].sum()))
        for j, pool in enumerate((pools.headers, pools.items, pools.bolds))
    ]
    room = np.searchsorted(pools.starts, len(pools.corpus) - 2 * length - 200, side="right")
    starts = pools.starts[(rng.random(n) * room).astype(np.int64)]
    texts = np.empty(n, dtype=object)
    texts[:] = ""
    if text:
        texts[:] = _texts(length, split, picks, starts, pools)
    return _Outputs(length, split[:, 0].copy(), split[:, 1].copy(), split[:, 2].copy(), texts)


def _texts(length, split, picks, starts, pools: _Pools) -> list[str]:
    """Compose every text of one writer (the hot loop: plain Python values only)."""
    fixed = _fixed_chars(split, picks, pools).tolist()
    pieces = [
        np.asarray(pool, dtype=object)[pk].tolist()
        for pool, pk in zip((pools.headers, pools.items, pools.bolds), picks, strict=True)
    ]
    ends = np.cumsum(split, axis=0).tolist()
    begins = (np.cumsum(split, axis=0) - split).tolist()
    hp, ip, bp = pieces
    out = []
    for L, fx, (h0, i0, b0), (h1, i1, b1), s in zip(
        length.tolist(), fixed, begins, ends, starts.tolist(), strict=True
    ):
        out.append(_compose(L, fx, hp[h0:h1], ip[i0:i1], bp[b0:b1], s, pools))
    return out


def _draw_instructions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique pseudo-word instructions and their AlpacaEval dataset names."""
    pools = _pools()
    verbs = ("Explain", "Describe", "Write", "List", "Summarize", "Compare", "Give", "Suggest")
    seen: dict[str, None] = {}
    while len(seen) < n:
        verb = verbs[rng.integers(len(verbs))]
        words = _words(rng, pools.vocab, pools.weights, int(rng.integers(3, 10)))
        end = "?" if rng.random() < 0.4 else "."
        seen.setdefault(f"{verb} {' '.join(words)}{end}", None)
    names = np.array(list(DATASETS), dtype=object)
    datasets = names[rng.choice(len(names), size=n, p=np.array(list(DATASETS.values())))]
    return np.array(list(seen), dtype=object), datasets


def _latin_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` standard-normal scores spread evenly (Latin hypercube), in random order."""
    return ndtri((rng.permutation(n) + rng.random(n)) / n)


def _model_params(
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
    """Strength, length, markdown density and ψ of each model."""
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


def _pick(rng: np.random.Generator, candidates: np.ndarray, rate: float) -> np.ndarray:
    """Exactly ``round(rate * len(candidates))`` of ``candidates``, uniformly at random."""
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


# =====================================================================================
# Validation
# =====================================================================================
def _is_int(x) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x)


def _check_range(name: str, value, lo_min: float, positive: bool = False) -> None:
    ok = (
        isinstance(value, Sequence | np.ndarray)
        and len(value) == 2
        and all(_is_real(v) for v in value)
        and lo_min <= value[0] <= value[1]
        and (not positive or value[0] > 0)
    )
    bound = "> 0" if positive else f">= {lo_min}"
    check_param(
        name, value, f"a pair (low, high) of finite numbers with {bound} and low <= high", ok
    )


def _check_per_model(name: str, value, n: int, sign: str = "", scalar_ok: bool = False) -> None:
    """``value`` is None, (if ``scalar_ok``) a number, or ``n`` numbers of the given sign.

    ``sign`` is ``""`` (any), ``"positive"`` or ``"non-negative"``.
    """
    if value is None or (scalar_ok and _is_real(value)):
        return
    arr = np.asarray(value, dtype=object)
    ok = arr.ndim == 1 and len(arr) == n and all(_is_real(v) for v in arr)
    if ok and sign:
        ok = all(v > 0 for v in arr) if sign == "positive" else all(v >= 0 for v in arr)
    what = "a finite number or " if scalar_ok else ""
    check_param(name, value, f"{what}a sequence of {n} {sign} finite numbers (one per model)", ok)


def _rates(name: str, value, models: list[str]) -> dict[str, float]:
    """A rate for every model from a float or a ``{model: rate}`` mapping."""
    if isinstance(value, Mapping):
        unknown = [m for m in value if m not in models]
        if unknown:
            raise ParameterError(
                f"The {name!r} parameter names unknown model(s) {unknown}; the simulated models "
                f"are {models[:5]}{' ...' if len(models) > 5 else ''}."
            )
        bad = {m: r for m, r in value.items() if not (_is_real(r) and 0 <= r <= 1)}
        check_param(
            name, bad or value, "a float in [0, 1] or a {model: rate in [0, 1]} mapping", not bad
        )
        return {m: float(value.get(m, 0.0)) for m in models}
    ok = _is_real(value) and 0 <= value <= 1
    check_param(name, value, "a float in [0, 1] or a {model: rate in [0, 1]} mapping", ok)
    return dict.fromkeys(models, float(value))


def _validate(a: dict[str, Any]) -> None:
    n = a["n_models"]
    check_param("n_models", n, "an int in [1, inf)", _is_int(n) and n >= 1)
    m = a["n_instructions"]
    check_param("n_instructions", m, "an int in [1, inf)", _is_int(m) and m >= 1)
    for name in ("length_effect", "markdown_effect", "position_bias"):
        check_param(name, a[name], "a finite float", _is_real(a[name]))
    for name in (
        "difficulty_sd",
        "length_sd",
        "instruction_length_sd",
        "baseline_markdown_density",
    ):
        check_param(name, a[name], "a float in [0, inf)", _is_real(a[name]) and a[name] >= 0)
    for name in ("soft_concentration", "markdown_scale", "baseline_length"):
        check_param(name, a[name], "a float in (0, inf)", _is_real(a[name]) and a[name] > 0)
    check_param("soft", a["soft"], "a bool", isinstance(a["soft"], bool | np.bool_))
    check_param("text", a["text"], "a bool", isinstance(a["text"], bool | np.bool_))
    check_param(
        "include_baseline", a["include_baseline"], "a bool", isinstance(a["include_baseline"], bool)
    )
    corr = a["length_strength_corr"]
    check_param(
        "length_strength_corr", corr, "a float in [-1, 1]", _is_real(corr) and -1 <= corr <= 1
    )
    seed = a["seed"]
    check_param(
        "seed", seed, "a non-negative int or None", seed is None or (_is_int(seed) and seed >= 0)
    )
    _check_range("theta_range", a["theta_range"], -math.inf)
    _check_range("length_range", a["length_range"], 0, positive=True)
    _check_range("markdown_range", a["markdown_range"], 0)
    _check_per_model("theta", a["theta"], n)
    _check_per_model("mean_length", a["mean_length"], n, "positive")
    _check_per_model("markdown_density", a["markdown_density"], n, "non-negative")
    _check_per_model("psi", a["psi"], n, scalar_ok=True)
    mix = a["markdown_mix"]
    ok = (
        isinstance(mix, Sequence | np.ndarray)
        and len(mix) == 3
        and all(_is_real(v) and v >= 0 for v in mix)
        and sum(mix) > 0
    )
    check_param("markdown_mix", mix, "three non-negative weights (headers, list items, bold)", ok)
    for name in ("judge", "baseline", "model_prefix"):
        ok = isinstance(a[name], str) and (a[name] != "" or name == "model_prefix")
        check_param(name, a[name], "a non-empty str", ok)
        if name != "model_prefix":
            check_param(name, a[name], "a name usable as a directory", "/" not in a[name])


# =====================================================================================
# The simulation
# =====================================================================================
def _stream(entropy: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def simulate(
    n_models: int = 8,
    n_instructions: int = 200,
    *,
    length_effect: float = 0.8,
    markdown_effect: float = 0.3,
    soft: bool = True,
    seed: int | None = 0,
    difficulty_sd: float = 1.0,
    theta: Sequence[float] | None = None,
    theta_range: tuple[float, float] = (-3.0, 1.0),
    psi: float | Sequence[float] = 1.0,
    mean_length: Sequence[float] | None = None,
    length_range: tuple[float, float] = (800.0, 3000.0),
    length_strength_corr: float = 0.3,
    baseline_length: float = 2000.0,
    length_sd: float = 0.35,
    instruction_length_sd: float = 0.3,
    markdown_density: Sequence[float] | None = None,
    markdown_range: tuple[float, float] = (0.0, 8.0),
    baseline_markdown_density: float = 5.0,
    markdown_mix: tuple[float, float, float] = (0.15, 0.6, 0.25),
    markdown_scale: float = 10.0,
    position_bias: float = 0.0,
    soft_concentration: float = 8.0,
    missing_rate: float | Mapping[str, float] = 0.0,
    empty_rate: float | Mapping[str, float] = 0.0,
    nan_rate: float | Mapping[str, float] = 0.0,
    include_baseline: bool = True,
    baseline: str = DEFAULT_BASELINE,
    judge: str = DEFAULT_JUDGE,
    model_prefix: str = "model_",
    text: bool = True,
) -> Simulation:
    """Simulate a judge with known biases comparing models with a fixed baseline.

    See the module docstring for the judge model. Every part has its own random
    stream derived from ``seed``: the instructions, the models' parameters, the
    baseline's outputs, each model's outputs, the judge and the dropped rows.
    So, e.g., a second call with another ``baseline``/``baseline_length``/
    ``judge``/``soft`` but the same ``seed`` and model settings gives the same
    instructions, difficulties and model outputs judged against a new baseline.

    Parameters
    ----------
    n_models : int, default 8
        Models besides the baseline, named ``f"{model_prefix}{i}"`` (zero-padded).
    n_instructions : int, default 200
        Instructions (AlpacaEval has 805).
    length_effect : float, default 0.8
        β_len, the judge's slope on ``tanh(Δlen / SD_m)``.
    markdown_effect : float, default 0.3
        β_md, the judge's slope per ``markdown_scale`` extra markdown elements.
    soft : bool, default True
        Soft preferences (a Beta draw with mean p) or hard 0/1 verdicts.
    seed : int or None, default 0
        Seed of the random streams; ``None`` draws fresh entropy (recorded in
        ``params["entropy"]``).
    difficulty_sd : float, default 1.0
        SD of the instruction difficulty γ.
    theta : sequence of float, optional
        The models' strengths θ_m (baseline 0). Default: spread evenly (Latin
        hypercube) over ``theta_range``, which gives raw win rates of ~5–70%.
    theta_range : (float, float), default (-3, 1)
    psi : float or sequence of float, default 1.0
        ψ_m, the models' slopes on γ.
    mean_length : sequence of float, optional
        The models' expected output lengths in characters. Default: log-uniform
        on ``length_range``, correlated with strength by ``length_strength_corr``.
    length_range : (float, float), default (800, 3000)
    length_strength_corr : float, default 0.3
        Gaussian-copula correlation of mean length with θ (0 = independent).
    baseline_length : float, default 2000
        The baseline's expected output length.
    length_sd, instruction_length_sd : float, default 0.35, 0.3
        Lognormal SDs of the row noise and of the shared per-instruction factor.
    markdown_density : sequence of float, optional
        Expected markdown elements per 1,000 characters, per model. Default:
        uniform on ``markdown_range``.
    markdown_range : (float, float), default (0, 8)
    baseline_markdown_density : float, default 5
    markdown_mix : (float, float, float), default (0.15, 0.6, 0.25)
        Shares of headers, list items and bold spans among markdown elements.
    markdown_scale : float, default 10
        Markdown differences are divided by this in the judge's logit.
    position_bias : float, default 0
        Added to the logit when the model's answer is shown first, subtracted
        when second.
    soft_concentration : float, default 8
        κ of the Beta draw (larger = soft preferences closer to p).
    missing_rate, empty_rate, nan_rate : float or {model: float}, default 0
        Share of each model's rows that are dropped / have an empty output / have
        no preference (NaN). Exactly ``round(rate × rows)`` rows per model,
        chosen at random; the baseline's own rows are never affected.
    include_baseline : bool, default True
        Include the baseline judged against itself (ties, 0.5).
    baseline, judge, model_prefix : str
        Names of the baseline, the judge and the models.
    text : bool, default True
        Write the texts. ``False`` keeps every output an empty string and the
        designed lengths and counts only in ``features`` (faster, far less memory).

    Returns
    -------
    Simulation

    Raises
    ------
    ParameterError
        A setting has the wrong type or value.

    Examples
    --------
    >>> sim = simulate(n_models=2, n_instructions=20, soft=False, seed=3)
    >>> sorted(set(sim.comparisons.data.preference))
    [0.0, 0.5, 1.0]
    >>> sim.truth.set_index("model").loc["baseline", "true_lc_win_rate"]
    np.float64(50.0)
    >>> text = sim.comparisons.data.output_model.iloc[25]
    >>> len(text) == sim.features.length_model.iloc[25]
    np.True_
    """
    args = dict(locals())
    _validate(args)
    entropy = np.random.SeedSequence(seed).entropy
    width = len(str(n_models - 1))
    models = [f"{model_prefix}{i:0{width}d}" for i in range(n_models)]
    if baseline in models:
        raise ParameterError(
            f"The 'baseline' name {baseline!r} is also a model's name; rename one."
        )
    rates = {k: _rates(k, args[k], models) for k in ("missing_rate", "empty_rate", "nan_rate")}
    mix = np.asarray(markdown_mix, dtype=float) / float(np.sum(markdown_mix))

    rng = _stream(entropy, _S_INSTRUCTIONS)
    instructions, datasets = _draw_instructions(rng, n_instructions)
    gamma = difficulty_sd * rng.standard_normal(n_instructions)
    inst_factor = instruction_length_sd * rng.standard_normal(n_instructions)
    log_var = instruction_length_sd**2 + length_sd**2

    par = _model_params(
        _stream(entropy, _S_PARAMS), n_models, theta, theta_range, mean_length, length_range,
        length_strength_corr, psi, markdown_density, markdown_range,
    )  # fmt: skip
    base = _draw_outputs(
        _stream(entropy, _S_BASELINE), baseline_length, inst_factor, length_sd, log_var,
        baseline_markdown_density, mix, text,
    )  # fmt: skip

    blocks: list[dict[str, Any]] = []
    if include_baseline:
        blocks.append(_baseline_block(base, n_instructions))
    judge_model = _Judge(
        length_effect, markdown_effect, markdown_scale, position_bias, soft, soft_concentration
    )
    for i, name in enumerate(models):
        out = _draw_outputs(
            _stream(entropy, _S_MODEL, i), par["mean_length"][i], inst_factor, length_sd, log_var,
            par["markdown_density"][i], mix, text,
        )  # fmt: skip
        rows = _stream(entropy, _S_ROWS, i)
        everything = np.arange(n_instructions)
        keep = np.setdiff1d(everything, _pick(rows, everything, rates["missing_rate"][name]))
        out.blank(_pick(rows, keep, rates["empty_rate"][name]))
        nan_rows = _pick(rows, keep, rates["nan_rate"][name])
        rng = _stream(entropy, _S_JUDGE, i)
        theta_psi = (par["theta"][i], par["psi"][i])
        blocks.append(judge_model.judge(rng, out, base, keep, nan_rows, gamma, *theta_psi))

    names = ([baseline] if include_baseline else []) + models
    comps, features = _assemble(
        blocks, names, instructions, datasets, gamma, base, baseline, judge, seed
    )
    truth = _truth(names, blocks, par, gamma, args, include_baseline)
    params = {
        **{k: _plain(v) for k, v in args.items()},
        "entropy": entropy,
        "models": models,
        "markdown_cap_divisor": _pools().cap,
    }
    difficulty = pd.Series(
        gamma, index=pd.Index(instructions, name="instruction"), name="instruction_difficulty"
    )
    evaluation_set = pd.DataFrame(
        {
            "instruction": instructions,
            "dataset": datasets,
            "difficulty": gamma,
            "output_baseline": pd.Series(base.texts, dtype=object),
            "length_baseline": base.length,
            "markdown_baseline": base.markdown,
        }
    )
    return Simulation(comps, truth, difficulty, params, features, evaluation_set)


def _plain(value):
    """JSON-friendly copy of a parameter value."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _baseline_block(base: _Outputs, n: int) -> dict[str, Any]:
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
class _Judge:
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

    def judge(self, rng, out: _Outputs, base: _Outputs, keep, nan_rows, gamma, theta, psi):
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


def _assemble(blocks, names, instructions, datasets, gamma, base, baseline, judge, seed):
    """Build the Comparisons and the row-aligned features table."""
    idx = np.concatenate([b["idx"] for b in blocks])
    sizes = [len(b["idx"]) for b in blocks]
    model_col = np.repeat(np.array(names, dtype=object), sizes)

    def cat(key):
        return np.concatenate([b[key] for b in blocks])

    def cat_out(attr):
        return np.concatenate([getattr(b["out"], attr)[b["idx"]] for b in blocks])

    def obj(values) -> pd.Series:  # object dtype: no string conversion before validation
        return pd.Series(values, dtype=object)

    df = pd.DataFrame(
        {
            "instruction": obj(instructions[idx]),
            "model": obj(model_col),
            "baseline": baseline,
            "output_model": obj(cat_out("texts")),
            "output_baseline": obj(base.texts[idx]),
            "preference": cat("preference"),
            "judge": judge,
            "dataset": obj(datasets[idx]),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        comps = Comparisons.from_dataframe(df, source=f"simulate(seed={seed})")
    comps = comps.with_instruction_order(instructions.tolist())
    features = pd.DataFrame(
        {
            "instruction": instructions[idx],
            "model": model_col,
            "length_model": cat_out("length"),
            "length_baseline": base.length[idx],
            "delta_length": cat("delta"),
            "sd_delta_length": np.repeat([b["sd"] for b in blocks], sizes),
            "headers_model": cat_out("headers"),
            "list_items_model": cat_out("items"),
            "bold_model": cat_out("bolds"),
            "markdown_model": cat_out("markdown"),
            "headers_baseline": base.headers[idx],
            "list_items_baseline": base.items[idx],
            "bold_baseline": base.bolds[idx],
            "markdown_baseline": base.markdown[idx],
            "difficulty": gamma[idx],
            "model_first": cat("model_first"),
            "logit": cat("logit"),
            "p": cat("p"),
        }
    )
    return comps, features


def _truth(names, blocks, par, gamma, args, include_baseline) -> pd.DataFrame:
    """The truth table: one row per model (baseline first)."""
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


# =====================================================================================
# Writing the AlpacaEval tree
# =====================================================================================
def _json_bytes(records: list[dict[str, Any]], indent: int | None) -> bytes:
    """A JSON list: pretty with ``indent``, else one record per line (fast C encoder)."""
    if indent is not None:
        text = json.dumps(records, indent=indent, ensure_ascii=False, allow_nan=False)
    else:
        enc = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        text = "[\n" + ",\n".join(map(enc, records)) + "\n]" if records else "[]"
    return (text + "\n").encode()


def _write_json(
    path: Path, records: list[dict[str, Any]], *, compress: bool, indent: int | None
) -> Path:
    from debias.atomic import write_bytes

    data = _json_bytes(records, indent)
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, compresslevel=9, mtime=0)
    write_bytes(path, data)  # temp file + rename: never half-written
    return path


def _price_time(instruction: str, out1: str, out2: str) -> tuple[float, float]:
    """A deterministic stand-in for the judge's cost: $0.01 per 1k tokens, ~4 chars a token."""
    tokens = (len(instruction) + len(out1) + len(out2)) / 4 + 200
    return round(tokens * 1e-5, 5), round(0.4 + tokens * 2e-4, 4)


def annotation_records(
    sim: Simulation, judge: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The AlpacaEval annotation records of every model, ``{model: [record, ...]}``.

    Parameters
    ----------
    sim : Simulation
    judge : str, optional
        The annotator's name (default: the simulation's judge).

    Returns
    -------
    dict of str to list of dict
        Records with ``instruction, output_1, generator_1, dataset, output_2,
        generator_2, annotator, preference, price_per_example, time_per_example``;
        ``preference`` on AlpacaEval's 1..2 scale (1 + P(model), rounded to 10
        decimals, ``None`` for no verdict). The baseline against itself has
        ``preference`` 1.5 and no price or time, as in the published files.

    Examples
    --------
    >>> recs = annotation_records(simulate(n_models=1, n_instructions=3, seed=0))
    >>> sorted(recs)
    ['baseline', 'model_0']
    >>> recs["baseline"][0]["preference"]
    1.5
    """
    data = sim.comparisons.data
    judge = judge or str(sim.params["judge"])
    cols = {c: data[c].tolist() for c in data.columns}  # plain Python values: fast
    pref = data["preference"].to_numpy()
    pref = [None if math.isnan(x) else round(1.0 + x, 10) for x in pref.tolist()]
    dataset = [None if pd.isna(x) else x for x in cols["dataset"]]
    out: dict[str, list[dict[str, Any]]] = {}
    for i, (instr, o1, b, o2, m) in enumerate(
        zip(
            cols["instruction"],
            cols["output_baseline"],
            cols["baseline"],
            cols["output_model"],
            cols["model"],
            strict=True,
        )
    ):
        price, time = (None, None) if m == b else _price_time(instr, o1, o2)
        out.setdefault(m, []).append(
            {
                "instruction": instr,
                "output_1": o1,
                "generator_1": b,
                "dataset": dataset[i],
                "output_2": o2,
                "generator_2": m,
                "annotator": judge,
                "preference": pref[i],
                "price_per_example": price,
                "time_per_example": time,
            }
        )
    return out


def write_alpaca_eval_tree(
    sim: Simulation,
    out: str | Path,
    judge: str | None = None,
    *,
    compress: bool = False,
    models: Sequence[str] | None = None,
    truth_file: str | None = "truth.csv",
    difficulty_file: str | None = "instruction_difficulty.csv",
    indent: int | None = None,
) -> Path:
    """Write a simulation in the published AlpacaEval file layout.

    Writes ``out/results/<model>/<judge>/annotations.json`` (``.json.gz`` with
    ``compress``) for every model including the baseline judged against itself,
    ``out/results/<baseline>/model_outputs.json`` (instruction, output,
    generator, dataset; canonical instruction order), the truth table and the
    per-instruction difficulty (``index,instruction_difficulty``, index =
    position in the canonical order, like the reference's difficulty file).

    Parameters
    ----------
    sim : Simulation
    out : str or Path
        Root directory. A new or empty one is built under a temporary name and renamed
        into place, so an interrupted write leaves no tree that reads as complete; in an
        existing tree (e.g. a second judge) each file is replaced atomically.
    judge : str, optional
        Judge directory and ``annotator`` name (default: the simulation's judge,
        ``"simulated_judge"``).
    compress : bool, default False
        Gzip the annotation files (reproducibly: no timestamp in the header).
    models : sequence of str, optional
        Write only these models' annotations (default: all).
    truth_file, difficulty_file : str or None
        File names under ``out`` for the truth table and the difficulty
        (``None`` to skip).
    indent : int or None, default None
        JSON indentation; ``None`` writes one record per line (fastest, and
        still diff-friendly).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ParameterError
        The simulation has no text (``simulate(text=False)``), or ``models``
        names an unknown model.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> sim = simulate(n_models=2, n_instructions=5, seed=0)
    >>> root = write_alpaca_eval_tree(sim, tempfile.mkdtemp())
    >>> recs = json.loads((root / "results/model_0/simulated_judge/annotations.json").read_text())
    >>> len(recs), 1 <= recs[0]["preference"] <= 2
    (5, True)
    """
    check_param("sim", type(sim).__name__, "a Simulation", isinstance(sim, Simulation))
    if not sim.params.get("text", True):
        raise ParameterError(
            "This simulation has no text (simulate(text=False)); simulate with text=True to write "
            "an AlpacaEval tree."
        )
    root = Path(out)
    judge = judge or str(sim.params["judge"])
    check_param("judge", judge, "a name usable as a directory", "/" not in judge)
    records = annotation_records(sim, judge)
    if models is not None:
        unknown = [m for m in models if m not in records]
        if unknown:
            raise ParameterError(f"The 'models' parameter names unknown model(s) {unknown}.")
        records = {m: records[m] for m in models}
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        from debias.atomic import atomic_dir

        with atomic_dir(root) as tmp:
            _write_tree(sim, tmp, judge, records, compress, truth_file, difficulty_file, indent)
        return root
    _write_tree(sim, root, judge, records, compress, truth_file, difficulty_file, indent)
    return root


def _write_tree(sim, root, judge, records, compress, truth_file, difficulty_file, indent) -> None:
    from debias.atomic import write_text

    for model, recs in records.items():
        _write_json(
            root / "results" / model / judge / "annotations.json",
            recs,
            compress=compress,
            indent=indent,
        )
    baseline = str(sim.params["baseline"])
    _write_json(
        root / "results" / baseline / "model_outputs.json",
        baseline_outputs(sim),
        compress=False,
        indent=indent,
    )
    if truth_file:
        write_text(root / truth_file, sim.truth.to_csv(index=False, lineterminator="\n"))
    if difficulty_file:
        diff = pd.DataFrame(
            {
                "index": np.arange(len(sim.difficulty)),
                "instruction_difficulty": sim.difficulty.to_numpy(),
            }
        )
        write_text(root / difficulty_file, diff.to_csv(index=False, lineterminator="\n"))


def baseline_outputs(sim: Simulation) -> list[dict[str, Any]]:
    """The baseline's ``model_outputs.json`` records, in canonical instruction order.

    Examples
    --------
    >>> recs = baseline_outputs(simulate(n_models=1, n_instructions=4, seed=0))
    >>> len(recs), sorted(recs[0])
    (4, ['dataset', 'generator', 'instruction', 'output'])
    """
    baseline = str(sim.params["baseline"])
    return [
        {
            "instruction": r.instruction,
            "output": r.output_baseline,
            "generator": baseline,
            "dataset": r.dataset,
        }
        for r in sim.instructions.itertuples(index=False)
    ]
