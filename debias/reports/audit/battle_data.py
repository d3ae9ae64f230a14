"""What the battle audit (:mod:`debias.reports.audit.judges`) fits and counts.

- :func:`default_features`: tokens, headers, lists and bold when the answers store token
  counts, else length and markdown;
- :func:`shared_battles`: the rows on (prompt, turn, pair of models) every judge graded;
- :func:`informative_features`: the features that differ between the answers of some
  battle (the others are left out, said why), refusing collinear ones;
- :func:`check_joint_size`: the joint dense fit of several judges, bounded;
- :func:`position_table` and :func:`consistency_by_model`: the consistency (per judge and
  per model) and the first-shown win rate, with intervals clustered by prompt.

Examples
--------
>>> b = pd.DataFrame({"judge": ["j1", "j2", "j1"], "prompt": ["p", "p", "q"],
...                   "model_a": "x", "model_b": "y"})
>>> shared, counts = shared_battles(b)
>>> len(shared), counts["n_rows"]
(2, 3)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError
from debias.reports.judges import feature_covariate
from debias.reports.position import BATTLE_COLUMNS, consistency, first_shown_win_rate

__all__ = [
    "TEXT_FEATURES",
    "TOKEN_FEATURES",
    "check_joint_size",
    "consistency_by_model",
    "default_features",
    "informative_features",
    "position_table",
    "shared_battles",
]

#: Default features: when the answers store token counts, and when they do not.
TOKEN_FEATURES = ("tokens", "headers", "lists", "bold")
TEXT_FEATURES = ("length", "markdown")
SEP = "\x00"  # joins a judge and a model in a label


def default_features(battles: pd.DataFrame, judgments=None) -> tuple[tuple[str, ...], str]:
    """The features audited by default, and why: tokens, headers, lists and bold when every
    answer of the battles has a stored token count, else length and markdown.

    Without ``judgments`` the battles' own ``<f>_a`` / ``<f>_b`` columns decide.
    """
    if judgments is not None:
        tokens = judgments.answers.get("tokens")
        if tokens is not None and len(battles):
            codes = np.concatenate([battles["answer_a"], battles["answer_b"]])
            if np.isfinite(tokens.to_numpy(dtype=float)[codes]).all():
                return TOKEN_FEATURES, (
                    "the answers store token counts: stored tokens and Arena's markdown counts"
                )
        return TEXT_FEATURES, (
            "the answers store no token counts: characters and markdown elements of the texts"
        )
    for names in (TOKEN_FEATURES, TEXT_FEATURES, ("length",)):
        if all(f"{f}_{s}" in battles for f in names for s in "ab"):
            return names, "the features the battle rows carry"
    raise InputError(
        "battle rows carry no feature columns (<f>_a, <f>_b) and no judgments were given to "
        "measure the answers; pass judgments= or features= with columns present."
    )


def shared_battles(battles: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Rows on the (prompt, turn, pair of models) that every judge graded, and counts."""
    judges = list(pd.unique(battles["judge"].astype(str)))
    info = {"n_rows": len(battles), "n_rows_shared": len(battles), "judges": judges}
    if len(judges) == 1:  # every row is shared
        return battles.reset_index(drop=True), info
    low = np.minimum(battles["model_a"].astype(str), battles["model_b"].astype(str))
    high = np.maximum(battles["model_a"].astype(str), battles["model_b"].astype(str))
    turn = battles["turn"] if "turn" in battles else 1
    key = battles["prompt"].astype(str) + "\0" + pd.Series(turn, index=battles.index).astype(str)
    key = key + "\0" + low + "\0" + high
    per_key = pd.Series(battles["judge"].astype(str).to_numpy(), index=key).groupby(level=0)
    shared = per_key.nunique() == len(judges)
    keep = key.map(shared).to_numpy(dtype=bool)
    info = {"n_rows": len(battles), "n_rows_shared": int(keep.sum()), "judges": judges}
    return battles[keep].reset_index(drop=True), info


def check_joint_size(battles: pd.DataFrame, features, judges: list) -> None:
    """Refuse, before building it, a joint dense design of several judges that is too big."""
    from debias.reports.judges import MAX_CELLS

    n_models = len(set(battles["model_a"].astype(str)) | set(battles["model_b"].astype(str)))
    width = (n_models + 2 + len(features)) * len(judges)
    if len(battles) * width > MAX_CELLS:
        raise ParameterError(
            f"{len(judges)} judges side by side need one joint dense fit of {len(battles):,} "
            f"battles x ~{width} coefficients (over {MAX_CELLS:,} cells); audit each judge "
            f"alone (judges=[{judges[0]!r}]) or fewer models (models=)."
        )


def informative_features(battles: pd.DataFrame, features) -> tuple[tuple[str, ...], dict]:
    """The features whose covariate is not 0 in every battle, and the others with why."""
    kept, dropped = [], {}
    for f in features:
        if np.any(feature_covariate(battles, f) != 0):
            kept.append(f)
        else:
            dropped[f] = "the same for both answers in every battle (nothing to estimate)"
    if not kept:
        raise InputError(
            f"battle rows: no feature ({', '.join(features)}) differs between the two answers "
            "of any battle: the answers' texts are missing (a table without answer_a / "
            "answer_b, say) or alike; give the answers or audit other style features."
        )
    x = np.column_stack([feature_covariate(battles, f) for f in kept])
    for k in range(1, len(kept)):
        if np.linalg.matrix_rank(x[:, : k + 1]) <= k:
            raise InputError(
                f"battle rows: feature {kept[k]!r} is a linear combination of {list(kept[:k])} "
                "in these battles (it always moves with them), so their effects cannot be told "
                f"apart; leave {kept[k]!r} out of the features audited."
            )
    return tuple(kept), dropped


def consistency_by_model(battles: pd.DataFrame, models, rule: str, level: float) -> dict:
    """judge -> model -> consistency of the pairs involving the model (percent, interval)."""
    battles = _mirrored(battles)
    a, b = battles["model_a"].astype(str), battles["model_b"].astype(str)
    judge = battles["judge"].astype(str)
    parts = [
        battles[mask].assign(judge=judge[mask] + SEP + m)
        for m in models
        if (mask := ((a == m) | (b == m)).to_numpy()).any()
    ]
    if not parts:
        return {}
    try:
        table = consistency(pd.concat(parts, ignore_index=True), rule=rule, level=level)
    except InputError:  # a model without a pair judged in both orders: one at a time
        found = []
        for part in parts:
            try:
                found.append(consistency(part, rule=rule, level=level))
            except InputError:
                continue
        table = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    out: dict = {}
    for r in table.to_dict("records"):
        judge_name, model = str(r["judge"]).split(SEP, 1)
        out.setdefault(judge_name, {})[model] = {
            "n": r["n"],
            "n_agree": r["n_consistent"],
            "estimate": r["estimate"],
            "conf_low": r["conf_low"],
            "conf_high": r["conf_high"],
        }
    return out


def _mirrored(battles: pd.DataFrame) -> pd.DataFrame:
    """The rows of (judge, prompt, turn, pair of models) judged in both orders, with the
    columns consistency reads."""
    a, b = battles["model_a"].astype(str).to_numpy(), battles["model_b"].astype(str).to_numpy()
    shown = battles["shown_first"].to_numpy()
    key = pd.DataFrame(
        {
            "judge": battles["judge"].astype(str).to_numpy(),
            "prompt": battles["prompt"].to_numpy(),
            "turn": battles["turn"].to_numpy() if "turn" in battles else 1,
            "low": np.minimum(a, b),
            "high": np.maximum(a, b),
            "first": np.where(shown == "a", a, np.where(shown == "b", b, "")),
        }
    )
    known = key["first"] != ""
    both = (
        key[known].groupby(["judge", "prompt", "turn", "low", "high"])["first"].transform("nunique")
    )
    keep = np.zeros(len(battles), bool)
    keep[np.flatnonzero(known.to_numpy())] = both.to_numpy() > 1
    columns = [c for c in (*BATTLE_COLUMNS, "turn", "weight") if c in battles]
    return battles.loc[keep, columns]


def position_table(battles: pd.DataFrame, rule: str, level: float) -> pd.DataFrame:
    c = consistency(battles, rule=rule, level=level).set_index("judge")
    f = first_shown_win_rate(battles, level=level).set_index("judge")
    out = pd.DataFrame(
        {
            "consistency": c["estimate"],
            "consistency_ci_low": c["conf_low"],
            "consistency_ci_high": c["conf_high"],
            "consistency_n": c["n"],
            "consistency_n_agree": c["n_consistent"],
            "first_shown_win_rate": f["estimate"],
            "first_shown_win_rate_ci_low": f["conf_low"],
            "first_shown_win_rate_ci_high": f["conf_high"],
            "first_shown_p_value": f["p_value"],
        }
    )
    return out.reset_index()
