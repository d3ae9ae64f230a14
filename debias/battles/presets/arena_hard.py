"""Arena-Hard-Auto v0.1's ``show_result.py``: :func:`arena_hard`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from debias.battles.presets.common import (
    ARENA_HARD_BASELINE,
    ELO_SCALE,
    PresetResult,
    check_boot,
    check_level,
    check_ties_as_rows,
    coef_frame,
    default_anchor,
    expand_weights,
    feature_names,
    percentiles,
    prepare,
    result_table,
    style_matrix,
    winrate_vs,
)
from debias.battles.presets.sklearn_bt import sklearn_preset
from debias.errors import ParameterError

__all__ = ["arena_hard"]


def arena_hard(
    battles: pd.DataFrame,
    *,
    baseline: str | None = None,
    features: Sequence[str] | None = None,
    n_boot: int = 100,
    seed: int | None = 42,
    level: float = 0.95,
) -> PresetResult:
    """Arena-Hard-Auto v0.1's leaderboard (``show_result.py``), exactly as it computes it.

    Parameters
    ----------
    battles : pandas.DataFrame
        Battle rows (:meth:`Judgments.battles() <debias.judgments.Judgments.battles>`):
        ``model_a, model_b, outcome`` (0, 0.5 or 1), optional ``weight`` (whole numbers:
        a strong verdict's 3 becomes 3 rows) and ``<f>_a, <f>_b`` for ``features``.
    baseline : str, optional
        The anchor (rating 1000, score 50); default the model in every battle, else
        ``gpt-4-0314``.
    features : sequence of str, optional
        Style control (``--style-control``): e.g. ``("tokens", "headers", "lists", "bold")``.
    n_boot : int
        Bootstrap rounds over rows (the tool: 100).
    seed : int, optional
        Seed of the bootstrap (the tool seeds NumPy's global generator with 42; the draws
        here come from ``numpy.random.default_rng(seed)``, so intervals vary as the tool's do
        between runs).
    level : float
        Interval level: percentiles ``(1 − level)/2`` and ``(1 + level)/2`` (the tool: 0.95).

    Returns
    -------
    PresetResult
    """
    who = "arena_hard"
    features = feature_names(features)
    check_boot(n_boot)
    check_level(level)
    d = expand_weights(prepare(battles, features, who), who)
    check_ties_as_rows(d.y, who)
    if baseline is None:
        baseline = default_anchor(d, None, who) or ARENA_HARD_BASELINE
    if baseline not in d.models:
        raise ParameterError(
            f"{who}: baseline= {baseline!r} is not among the models {list(d.models)[:10]}."
        )
    base = d.models.index(baseline)
    x = style_matrix(d.frame, features, plus_one=True, who=who)
    anchor_to = 1000.0

    def anchor_fn(r):
        return r + anchor_to - r[base]

    rating, coef, boot_r, boot_c = sklearn_preset(
        d, x, penalised=bool(features), n_boot=n_boot, seed=seed, level=level, anchor_fn=anchor_fn
    )
    low, high = percentiles(boot_r, level)
    c_low, c_high = percentiles(boot_c, level) if features else (None, None)
    note = "" if n_boot else "n_boot=0: no interval"

    def scores():
        return (
            winrate_vs(rating, anchor_to),
            winrate_vs(low, anchor_to),
            winrate_vs(high, anchor_to),
        )

    theta = (rating - rating.mean()) / ELO_SCALE
    table = result_table(d, theta, rating, low, high, baseline, scores, note)
    table.loc[
        table["model"] == baseline,
        ["rating_ci_low", "rating_ci_high", "score_ci_low", "score_ci_high"],
    ] = np.nan
    table.loc[table["model"] == baseline, "note"] = "the baseline (fixed at 50 by definition)"
    coefs = coef_frame(features, coef, c_low, c_high)
    kind = (
        "style-controlled (L2 C=1 on all coefficients, z-scored (a-b)/(a+b+1))"
        if features
        else "unpenalised"
    )
    description = (
        f"Arena-Hard v0.1 show_result.py: {len(d.a)} rows (strong verdicts repeated), ties = "
        f"one win + one loss, {kind} logistic regression on the ±ln10 design (scikit-learn); "
        f"score = predicted win rate vs {baseline} in percent; {n_boot} bootstrap rounds over "
        f"rows, percentiles {100 * (1 - level) / 2:g}/{100 * (1 + level) / 2:g}."
    )
    return PresetResult(who, table, coefs, baseline, level, description)
