"""Compatibility presets: the numbers of the tools researchers use today, on the same battles.

Each preset reproduces one tool's conventions exactly (read from its code at the commit
named) so a leaderboard computed with it can be compared with the principled default
(:func:`debias.battles.leaderboard.battle_leaderboard`); :func:`compare_presets` shows them
side by side in one tidy frame.

- :func:`arena_hard`: Arena-Hard-Auto v0.1 ``show_result.py`` (``lmarena/arena-hard-auto``;
  the copy at ``danielwetzel/arena-hard-auto`` @ ``20abca57`` wrote the data pack's battles).
  Strong verdicts are rows repeated 3 times (integer weights here are expanded into
  repeated rows, as its battles file is), both games, ties = one win + one loss on a
  duplicated design; an **unpenalised** logistic regression (scikit-learn, ``C=inf``,
  ``tol=1e-8``, no intercept) on the ±ln 10 design; score = predicted win rate against the
  baseline in percent; 100 bootstrap rounds **over rows** (expanded rows, not prompts) with
  the **2.5 / 97.5** percentiles of the ratings mapped to win rates (v0.1; the later v2
  ``show_result.py`` uses 5 / 95). Style control (``features=``): per feature
  ``(a − b) / (a + b + 1)``, centred and divided by its SD (ddof 0), fitted by
  ``LogisticRegression(fit_intercept=False)`` with scikit-learn's defaults (L2 with ``C=1``
  on every coefficient, strengths included; lbfgs ``tol=1e-4``), bootstrap over battles.
- :func:`arena_rank`: ``arena-rank`` 0.1.1 ``ContextualBradleyTerry`` with
  ``ContextualPairDataset.from_pandas`` defaults: features ``(a − b) / (a + b)`` (a zero sum
  counts as 1) centred and divided by their SD (ddof 0); inverse pair-frequency weights
  ``1 / max(n_pair, 50)`` divided by their mean; loss = **mean** weighted log-loss
  + ``reg/2 · ||β||²`` (``reg=1``, style coefficients only); strengths with mean zero; its
  sandwich ``H⁻¹ G H⁻¹ / n`` with ``H`` the mean Hessian **without** the L2 term plus
  ``1e-5·I``, ``G`` the mean outer product of the weighted scores minus ``reg²/n · ββᵀ``;
  ratings ``1000 + 400/ln 10 · θ``. Solved exactly here (Newton) where the package stops
  its L-BFGS at ``ftol = gtol = 1e-9``; ``benchmarks/arena_rank_check.py`` compares both.
- :func:`fastchat_elo`: FastChat ``fastchat/serve/monitor/elo_analysis.py``:
  ``method="mle"`` (default) is ``compute_elo_mle_with_tie`` (Bradley–Terry with ties as
  half a win, scale 400, base 10, init 1000, ``mixtral-8x7b-instruct-v0.1`` anchored at 1114
  when present, else mean 1000; its L-BFGS-B solved exactly here), bootstrap over battles
  with 2.5 / 97.5 percentiles; ``method="online"`` is ``compute_elo`` (sequential Elo,
  ``K=4``, in row order; no interval: it is not an estimator with a sampling model).
  ``features=`` gives FastChat's style control (``construct_style_matrices`` +
  ``fit_mle_elo``: the same conventions as Arena-Hard's style control above).

Every preset returns a :class:`PresetResult` with the ratings, the scores against an
anchor and the style coefficients, each with the interval the tool computes (missing with
a reason where it computes none).

Examples
--------
>>> from debias.simulate.arena import simulate_arena
>>> sim = simulate_arena(n_models=4, n_battles=3_000, seed=1)
>>> res = arena_rank(sim.battles, features=("tokens",))
>>> res.table[["model", "rating"]].round(1)
     model  rating
0  model_0  1069.8
1  model_1  1123.1
2  model_2   990.3
3  model_3   816.9
"""

from __future__ import annotations

from debias.battles.presets.arena_hard import arena_hard
from debias.battles.presets.arena_rank import (
    arena_rank,
    arena_rank_sandwich,
    arena_rank_weights,
)
from debias.battles.presets.common import PresetResult
from debias.battles.presets.compare import compare_presets
from debias.battles.presets.fastchat import fastchat_elo

PRESETS = {"arena_hard": arena_hard, "arena_rank": arena_rank, "fastchat_elo": fastchat_elo}

__all__ = [
    "PRESETS",
    "PresetResult",
    "arena_hard",
    "arena_rank",
    "arena_rank_sandwich",
    "arena_rank_weights",
    "compare_presets",
    "fastchat_elo",
]
