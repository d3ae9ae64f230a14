"""The simulation: :func:`simulate` draws an evaluation from a judge with known biases.

Every part has its own random stream derived from the seed (instructions, model
parameters, the baseline's outputs, each model's outputs, the judge, the dropped rows),
so changing one setting leaves the other parts' draws unchanged. The parts:
:mod:`~debias.simulate.texts` (answers), :mod:`~debias.simulate.judge` (verdicts and
truth), :mod:`~debias.simulate.settings` (checks); :mod:`~debias.simulate.writer`
writes the result as an AlpacaEval tree.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from debias.data import Comparisons
from debias.errors import DataWarning, ParameterError
from debias.simulate.judge import Judge, baseline_block, model_params, pick_rows, truth_table
from debias.simulate.settings import per_model_rates, validate_settings
from debias.simulate.texts import draw_instructions, draw_outputs, markdown_cap

__all__ = ["DEFAULT_BASELINE", "DEFAULT_JUDGE", "Simulation", "simulate"]

DEFAULT_JUDGE = "simulated_judge"
DEFAULT_BASELINE = "baseline"

# Stream keys: each part of the simulation has its own random stream, so changing
# one setting (say the baseline's length) leaves the others' draws unchanged.
_S_INSTRUCTIONS, _S_PARAMS, _S_BASELINE, _S_MODEL, _S_JUDGE, _S_ROWS = range(1, 7)


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
    validate_settings(args)
    entropy = np.random.SeedSequence(seed).entropy
    width = len(str(n_models - 1))
    models = [f"{model_prefix}{i:0{width}d}" for i in range(n_models)]
    if baseline in models:
        raise ParameterError(
            f"The 'baseline' name {baseline!r} is also a model's name; rename one."
        )
    rates = {
        k: per_model_rates(k, args[k], models) for k in ("missing_rate", "empty_rate", "nan_rate")
    }
    mix = np.asarray(markdown_mix, dtype=float) / float(np.sum(markdown_mix))

    rng = _stream(entropy, _S_INSTRUCTIONS)
    instructions, datasets = draw_instructions(rng, n_instructions)
    gamma = difficulty_sd * rng.standard_normal(n_instructions)
    inst_factor = instruction_length_sd * rng.standard_normal(n_instructions)
    log_var = instruction_length_sd**2 + length_sd**2

    par = model_params(
        _stream(entropy, _S_PARAMS), n_models, theta, theta_range, mean_length, length_range,
        length_strength_corr, psi, markdown_density, markdown_range,
    )  # fmt: skip
    base = draw_outputs(
        _stream(entropy, _S_BASELINE), baseline_length, inst_factor, length_sd, log_var,
        baseline_markdown_density, mix, text,
    )  # fmt: skip

    blocks: list[dict[str, Any]] = []
    if include_baseline:
        blocks.append(baseline_block(base, n_instructions))
    judge_model = Judge(
        length_effect, markdown_effect, markdown_scale, position_bias, soft, soft_concentration
    )
    for i, name in enumerate(models):
        out = draw_outputs(
            _stream(entropy, _S_MODEL, i), par["mean_length"][i], inst_factor, length_sd, log_var,
            par["markdown_density"][i], mix, text,
        )  # fmt: skip
        rows = _stream(entropy, _S_ROWS, i)
        everything = np.arange(n_instructions)
        keep = np.setdiff1d(everything, pick_rows(rows, everything, rates["missing_rate"][name]))
        out.blank(pick_rows(rows, keep, rates["empty_rate"][name]))
        nan_rows = pick_rows(rows, keep, rates["nan_rate"][name])
        rng = _stream(entropy, _S_JUDGE, i)
        theta_psi = (par["theta"][i], par["psi"][i])
        blocks.append(judge_model.judge(rng, out, base, keep, nan_rows, gamma, *theta_psi))

    names = ([baseline] if include_baseline else []) + models
    comps, features = _assemble(
        blocks, names, instructions, datasets, gamma, base, baseline, judge, seed
    )
    truth = truth_table(names, blocks, par, gamma, args, include_baseline)
    params = {
        **{k: _plain(v) for k, v in args.items()},
        "entropy": entropy,
        "models": models,
        "markdown_cap_divisor": markdown_cap(),
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
