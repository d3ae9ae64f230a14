"""Counterfactual predictions: what the judge would say if the mediators were different.

The vocabulary follows marginaleffects: :func:`predictions` (one row per judgment),
:func:`avg_predictions` (averaged, e.g. the length-controlled win rate per model),
:func:`comparisons` (the change between two counterfactuals), plus the win rate
against any fitted model (:func:`winrate`, :func:`winrate_matrix`) and Elo.

A counterfactual is given by ``at``: ``None`` (the default) sets **every**
mediator to "no difference" (model value = baseline value); a mapping
``{mediator: value}`` changes only the named mediators, where a number is the
difference model − baseline on the raw scale (0 = none) and a callable
``f(model_values, baseline_values)`` returns the model's new values, e.g.
:func:`ratio` ``(1.3)`` for "answers 30% longer than the baseline's".

Probabilities are in [0, 1] inside the API; win rates in tables are in percent.

The package: :mod:`~debias.counterfactual.apply` (``at=``, :func:`ratio`),
:mod:`~debias.counterfactual.predictions` (:func:`predictions`, :func:`avg_predictions`,
:func:`comparisons`) and :mod:`~debias.counterfactual.pairs` (:func:`winrate`,
:func:`winrate_matrix`, :func:`winrate_pairs`, :func:`elo`).
"""

from debias.counterfactual.apply import apply_at, counterfactual_designs, ratio
from debias.counterfactual.pairs import (
    PAIR_COLUMNS,
    SAME_MODEL_NOTE,
    elo,
    winrate,
    winrate_matrix,
    winrate_pairs,
)
from debias.counterfactual.predictions import (
    BASELINE_NOTE,
    OBSERVED,
    RESULT_COLUMNS,
    SE_METHODS,
    average_with_influence,
    avg_predictions,
    comparisons,
    predictions,
)

__all__ = [
    "BASELINE_NOTE",
    "OBSERVED",
    "PAIR_COLUMNS",
    "RESULT_COLUMNS",
    "SAME_MODEL_NOTE",
    "SE_METHODS",
    "apply_at",
    "average_with_influence",
    "avg_predictions",
    "comparisons",
    "counterfactual_designs",
    "elo",
    "predictions",
    "ratio",
    "winrate",
    "winrate_matrix",
    "winrate_pairs",
]
