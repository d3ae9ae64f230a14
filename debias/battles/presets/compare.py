"""Every preset and the principled default side by side: :func:`compare_presets`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from debias.battles.presets.arena_hard import arena_hard
from debias.battles.presets.arena_rank import arena_rank
from debias.battles.presets.common import default_anchor, feature_names, prepare
from debias.battles.presets.fastchat import fastchat_elo

__all__ = ["compare_presets"]


def compare_presets(
    battles: pd.DataFrame,
    *,
    features: Sequence[str] = ("tokens", "headers", "lists", "bold"),
    anchor: str | None = None,
    n_boot: int = 100,
    seed: int | None = 0,
    level: float = 0.95,
    include_default: bool = True,
) -> pd.DataFrame:
    """Every preset (and the principled default) on the same battles, in one tidy frame.

    Parameters
    ----------
    battles : pandas.DataFrame
        Battle rows with ``<f>_a, <f>_b`` for ``features``.
    features : sequence of str
        Style features for the style-controlled fits.
    anchor : str, optional
        Model every score is against; default the model in every battle, else the model
        with the most battles (stated in the ``anchor`` column).
    n_boot, seed, level
        Bootstrap rounds of the bootstrapping presets, their seed, and the interval level.
    include_default : bool
        Add ``debias`` rows from :func:`debias.battles.leaderboard.battle_leaderboard`
        (style-controlled strengths, uncentred features, prompt-clustered sandwich).

    Returns
    -------
    pandas.DataFrame
        ``preset, kind, name, estimate, conf_low, conf_high, anchor, note``: ``kind`` is
        ``"score"`` (``name`` a model, percent win rate against ``anchor``) or ``"style"``
        (``name`` a feature, the coefficient on the preset's scaled covariate).
    """
    features = feature_names(features)
    d = prepare(battles, features, "compare_presets")
    if anchor is None:
        anchor = default_anchor(d, None, "compare_presets")
        if anchor is None:
            counts = np.bincount(d.a, minlength=len(d.models)) + np.bincount(
                d.b, minlength=len(d.models)
            )
            anchor = d.models[int(np.argmax(counts))]
    runs = {
        "arena_hard": lambda: arena_hard(
            battles, baseline=anchor, n_boot=n_boot, seed=seed, level=level
        ),
        "arena_hard_style": lambda: arena_hard(
            battles, baseline=anchor, features=features, n_boot=n_boot, seed=seed, level=level
        ),
        "arena_rank": lambda: arena_rank(battles, features=features, anchor=anchor, level=level),
        "fastchat_elo": lambda: fastchat_elo(
            battles, anchor=anchor, n_boot=n_boot, seed=seed, level=level
        ),
    }
    parts = []
    for name, run in runs.items():
        res = run()
        parts.append(_tidy(name, res.table, res.coefficients, anchor))
    if include_default:
        parts.append(_default_rows(battles, features, anchor, level))
    return pd.concat(parts, ignore_index=True)


def _tidy(preset, table, coefficients, anchor) -> pd.DataFrame:
    scores = pd.DataFrame(
        {
            "preset": preset,
            "kind": "score",
            "name": table["model"],
            "estimate": table["score"],
            "conf_low": table["score_ci_low"],
            "conf_high": table["score_ci_high"],
            "anchor": anchor,
            "note": table["note"],
        }  # fmt: skip
    )
    style = pd.DataFrame(
        {
            "preset": preset,
            "kind": "style",
            "name": coefficients["feature"],
            "estimate": coefficients["estimate"],
            "conf_low": coefficients["conf_low"],
            "conf_high": coefficients["conf_high"],
            "anchor": anchor,
            "note": coefficients["note"],
        }  # fmt: skip
    )
    return pd.concat([scores, style], ignore_index=True)


def _default_rows(battles, features, anchor, level) -> pd.DataFrame:
    """The principled default (A2's battle_leaderboard), when it is available."""
    try:
        from debias.battles.leaderboard import battle_leaderboard
    except ImportError:  # pragma: no cover - the default lands with debias.battles.leaderboard
        return pd.DataFrame(
            {
                "preset": ["debias"],
                "kind": ["score"],
                "name": [None],
                "estimate": [np.nan],
                "conf_low": [np.nan],
                "conf_high": [np.nan],
                "anchor": [anchor],
                "note": ["debias.battles.leaderboard is not available"],
            }  # fmt: skip
        )
    table, report = battle_leaderboard(battles, features=features, anchor=anchor, level=level)
    scores = pd.DataFrame(
        {
            "preset": "debias",
            "kind": "score",
            "name": table["model"],
            "estimate": table["controlled_score"],
            "conf_low": table["controlled_score_ci_low"],
            "conf_high": table["controlled_score_ci_high"],
            "anchor": anchor,
            "note": table["note"] if "note" in table else "",
        }  # fmt: skip
    )
    coefficients = getattr(report, "coefficients", None)
    if isinstance(coefficients, pd.DataFrame) and len(coefficients):
        c = coefficients.reset_index()
        name = c["term"] if "term" in c else c.iloc[:, 0]
        style = pd.DataFrame(
            {
                "preset": "debias",
                "kind": "style",
                "name": name,
                "estimate": c["estimate"],
                "conf_low": c.get("conf_low"),
                "conf_high": c.get("conf_high"),
                "anchor": anchor,
                "note": "unpenalised, uncentred covariates",
            }  # fmt: skip
        )
        scores = pd.concat([scores, style], ignore_index=True)
    return scores
