"""FastChat's Elo scale (``elo_analysis.py``): :func:`fastchat_elo`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from debias.battles.presets.common import (
    ELO_SCALE,
    FASTCHAT_ANCHOR,
    BattleRows,
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
from debias.battles.presets.solver import fit_bt
from debias.errors import FitWarning, ParameterError, check_param

__all__ = ["fastchat_elo"]


def _online_elo(d: BattleRows, k_factor: float = 4.0) -> np.ndarray:
    rating = np.full(len(d.models), 1000.0)
    for a, b, s in zip(d.a, d.b, d.y, strict=True):
        ea = 1 / (1 + 10 ** ((rating[b] - rating[a]) / 400))
        eb = 1 / (1 + 10 ** ((rating[a] - rating[b]) / 400))
        rating[a] += k_factor * (s - ea)
        rating[b] += k_factor * (1 - s - eb)
    return rating


def fastchat_elo(
    battles: pd.DataFrame,
    *,
    method: str = "mle",
    features: Sequence[str] | None = None,
    n_boot: int = 100,
    seed: int | None = 0,
    level: float = 0.95,
    anchor: str | None = None,
    k_factor: float = 4.0,
) -> PresetResult:
    """FastChat's Elo scale (``fastchat/serve/monitor/elo_analysis.py``).

    Parameters
    ----------
    battles : pandas.DataFrame
        Battle rows (``model_a, model_b, outcome`` in {0, 0.5, 1}; whole-number weights
        become repeated rows).
    method : {"mle", "online"}
        ``"mle"``: ``compute_elo_mle_with_tie`` (Bradley–Terry, ties = half a win, rating
        ``400·r + 1000`` with ``r`` in base-10 units; ``mixtral-8x7b-instruct-v0.1`` = 1114
        when present, else mean 1000); ``"online"``: ``compute_elo`` (``K=k_factor``).
    features : sequence of str, optional
        Style control as ``construct_style_matrices`` + ``fit_mle_elo`` (``mle`` only).
    n_boot, seed, level
        Bootstrap over battles (FastChat: 2.5 / 97.5 percentiles).
    anchor : str, optional
        Model the scores are against (default the model in every battle, if one is).

    Returns
    -------
    PresetResult
    """
    who = "fastchat_elo"
    features = feature_names(features)
    check_param("method", method, '"mle" or "online"', method in ("mle", "online"))
    check_boot(n_boot)
    check_level(level)
    if method == "online" and features:
        raise ParameterError(f"{who}: features= needs method='mle' (online Elo has no covariates).")
    d = expand_weights(prepare(battles, features, who), who)
    check_ties_as_rows(d.y, who)
    anchor = default_anchor(d, anchor, who)
    fixed, fixed_at = FASTCHAT_ANCHOR

    def anchor_fn(r):
        if fixed in d.models:
            return r + fixed_at - r[d.models.index(fixed)]
        return r - np.nanmean(r) + 1000.0 if features else r

    coef = np.zeros(0)
    c_low = c_high = None
    boot_r = np.zeros((0, len(d.models)))
    if method == "online":
        rating = _online_elo(d, k_factor)
        low = high = np.full(len(d.models), np.nan)
        note = "online Elo depends on the row order; no interval"
    elif features:
        x = style_matrix(d.frame, features, plus_one=True, who=who)
        rating, coef, boot_r, boot_c = sklearn_preset(
            d, x, penalised=True, n_boot=n_boot, seed=seed, level=level, anchor_fn=anchor_fn
        )
        low, high = percentiles(boot_r, level)
        c_low, c_high = percentiles(boot_c, level)
        note = ""
    else:
        x = np.zeros((len(d.a), 0))
        theta, _, _ = fit_bt(d, x)
        rating = anchor_fn(1000.0 + ELO_SCALE * theta)
        rng = np.random.default_rng(seed)
        boot = []
        m = len(d.models)
        for _ in range(n_boot):
            counts = rng.multinomial(len(d.a), np.full(len(d.a), 1 / len(d.a))).astype(float)
            present = (np.bincount(d.a, counts, m) + np.bincount(d.b, counts, m)) > 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FitWarning)
                t, _, _ = fit_bt(BattleRows(d.models, d.a, d.b, d.y, counts, d.frame), x)
            boot.append(np.where(present, anchor_fn(1000.0 + ELO_SCALE * t), np.nan))
        boot_r = np.array(boot).reshape(n_boot, m)
        low, high = percentiles(boot_r, level)
        note = ""
    theta = (rating - np.mean(rating)) / ELO_SCALE

    def scores():
        # FastChat reports ratings only: the score interval is the percentile interval of
        # each replicate's win rate against the anchor (the anchor's own uncertainty included)
        j = d.models.index(anchor)
        s_low, s_high = percentiles(winrate_vs(boot_r, boot_r[:, [j]]), level)
        return winrate_vs(rating, rating[j]), s_low, s_high

    table = result_table(d, theta, rating, low, high, anchor, scores, note)
    if anchor is not None:
        table.loc[table["model"] == anchor, ["score_ci_low", "score_ci_high"]] = np.nan
        table.loc[table["model"] == anchor, "note"] = "the anchor (50 by definition)"
    coefs = coef_frame(features, coef, c_low, c_high)
    what = (
        f"online Elo (K={k_factor:g}, row order)"
        if method == "online"
        else (
            "style control (scikit-learn L2 C=1, z-scored (a-b)/(a+b+1))"
            if features
            else "Bradley-Terry MLE with ties as half"
        )  # fmt: skip
    )
    description = (
        f"FastChat elo_analysis.py: {what}; scale 400, base 10, init 1000"
        f"{', ' + fixed + ' = 1114' if fixed in d.models else ''}; "
        + (
            f"{n_boot} bootstrap rounds over battles, percentiles {100 * (1 - level) / 2:g}/"
            f"{100 * (1 + level) / 2:g}."
            if method == "mle"
            else "no interval."
        )  # fmt: skip
    )
    return PresetResult(who, table, coefs, anchor, level, description)
