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

Modules
-------
- :mod:`~debias.simulate.texts`: the text generator (answers with the designed lengths
  and markdown counts);
- :mod:`~debias.simulate.judge`: the judge (strengths, biases, verdicts) and the truth;
- :mod:`~debias.simulate.settings`: checks of the settings;
- :mod:`~debias.simulate.simulation`: :class:`Simulation` and :func:`simulate`;
- :mod:`~debias.simulate.writer`: the AlpacaEval tree, through :mod:`debias.io.writer`;
- :mod:`~debias.simulate.arena`: :func:`simulate_arena`, a Chatbot-Arena-like set of any-pair
  battles with known strengths and style effects (millions of battles, no texts);
- :mod:`~debias.simulate.position`: :func:`simulate_judges`, several judges with known
  position bias, self-preference and length slopes on shared prompts;
- :mod:`~debias.simulate.grades`: :func:`simulate_grades` (single-answer grades with known
  cut points and grade-length slope) and :func:`simulate_graded_verdicts` (ordered pairwise
  levels).
"""

from __future__ import annotations

from debias.simulate.arena import ArenaSimulation, simulate_arena
from debias.simulate.grades import simulate_graded_verdicts, simulate_grades
from debias.simulate.judge import population_lc_win_rate
from debias.simulate.position import simulate_judges
from debias.simulate.simulation import DEFAULT_BASELINE, DEFAULT_JUDGE, Simulation, simulate
from debias.simulate.writer import annotation_records, baseline_outputs, write_alpaca_eval_tree

__all__ = [
    "ArenaSimulation",
    "DEFAULT_BASELINE",
    "DEFAULT_JUDGE",
    "Simulation",
    "annotation_records",
    "baseline_outputs",
    "population_lc_win_rate",
    "simulate",
    "simulate_arena",
    "simulate_graded_verdicts",
    "simulate_grades",
    "simulate_judges",
    "write_alpaca_eval_tree",
]
