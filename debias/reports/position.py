"""Position bias of a pairwise judge: consistency, first-shown win rate, the order design.

Input: the battle rows of :meth:`debias.judgments.Judgments.battles` (``judge, prompt,
turn, model_a, model_b, outcome, weight, shown_first, pair``; ``outcome`` = P(A wins),
0.5 a tie, NaN no verdict; ``shown_first`` = ``"a"``, ``"b"`` or ``"unknown"``).

- :func:`add_position` / :func:`position_covariate`: +1 when answer A was shown first, −1 when second, 0
  when unknown (signed A minus B, as every battle covariate); the ``position`` term
  of the battle fits (:func:`debias.reports.judges.fit_judges`).
- :func:`order_design`: whether the order shown can be separated from the prompt
  (both orders judged, or an order that varies within prompts) or not (unknown, or
  a fixed function of the prompt as in AlpacaEval).
- :func:`consistency`: the share of pairs whose two orders agree (the pair rule; ties
  agree with ties), or Position-Bias-Analyzer's per-call count (``rule="call"``).
- :func:`first_shown_win_rate`: how often the answer shown first wins (ties ½).

Why a battle covariate and not a mediator of the fixed-baseline GLM: a mediator is a
property of the two answers, the order is a property of the call, and the fixed-baseline
view (:class:`~debias.Comparisons`) keeps one row per (model, prompt): both orders are
refused there or averaged (``fixed_baseline(orders="mean")``, which balances position
exactly). With a fixed baseline the battle fit *is* the per-model logistic model
(strength = log-odds against the baseline) with the position slope shared by the models,
so the position term lives in the battle fits (:func:`add_position`,
:func:`debias.reports.judges.fit_judges`), with counterfactuals at position 0.

Both percentages come with cluster-robust intervals by prompt (ratio estimators, per-prompt
influences, Student's t with G − 1 df); an interval whose standard error is 0 (every
pair agrees, say) is missing, never of zero width.

Examples
--------
>>> import pandas as pd
>>> b = pd.DataFrame({"judge": "j", "prompt": ["p1", "p1", "p2", "p2"], "turn": 1,
...     "model_a": ["x", "y", "x", "y"], "model_b": ["y", "x", "y", "x"],
...     "outcome": [1.0, 0.0, 1.0, 1.0], "weight": 1.0, "shown_first": "a", "pair": 0})
>>> consistency(b)[["judge", "n", "n_consistent", "estimate"]]
  judge  n  n_consistent  estimate
0     j  2             1      50.0
>>> float(first_shown_win_rate(b)["estimate"].iloc[0])
75.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from debias.errors import InputError, ParameterError
from debias.inference.cluster import cluster_se, critical_value

__all__ = [
    "BATTLE_COLUMNS",
    "add_position",
    "consistency",
    "first_shown_win_rate",
    "order_design",
    "position_covariate",
    "ratio_interval",
]

BATTLE_COLUMNS = ("judge", "prompt", "model_a", "model_b", "outcome", "shown_first")
_SHOWN = ("a", "b", "unknown")


def check_battles(battles: pd.DataFrame, columns=BATTLE_COLUMNS) -> pd.DataFrame:
    """Refuse a frame that is not battle rows (one line naming the missing columns)."""
    if not isinstance(battles, pd.DataFrame):
        raise InputError(
            f"Expected the battle rows as a pandas DataFrame (Judgments.battles()), got "
            f"{type(battles).__name__}."
        )
    missing = [c for c in columns if c not in battles.columns]
    if missing:
        raise InputError(
            f"battle rows: missing column(s) {missing}; build them with Judgments.battles(). "
            f"Columns present: {list(battles.columns)}."
        )
    bad = ~battles["shown_first"].isin(_SHOWN)
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
        raise InputError(
            f"battle rows: shown_first must be 'a', 'b' or 'unknown'; row(s) {rows} hold "
            f"{battles['shown_first'][bad].unique()[:3].tolist()}."
        )
    return battles


def position_covariate(battles: pd.DataFrame) -> np.ndarray:
    """The ``position`` term: +1 when A was shown first, −1 when B was, 0 when unknown.

    Examples
    --------
    >>> position_covariate(pd.DataFrame({"shown_first": ["a", "b", "unknown"]}))
    array([ 1., -1.,  0.])
    """
    shown = battles["shown_first"].to_numpy()
    return np.where(shown == "a", 1.0, np.where(shown == "b", -1.0, 0.0))


def add_position(battles: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``battles`` with a ``position`` covariate column (signed A minus B).

    Use it as any battle covariate, e.g.
    ``battle_design(add_position(b), covariates=("position",))``
    (:mod:`debias.battles.design`). Raises when no judge's order can be separated from
    the prompt (:func:`order_design`): the coefficient would not be identified.

    Examples
    --------
    >>> b = pd.DataFrame({"judge": "j", "prompt": ["p", "p"], "model_a": ["x", "y"],
    ...     "model_b": ["y", "x"], "outcome": [1.0, 1.0], "shown_first": "a"})
    >>> add_position(b)["position"].tolist()
    [1.0, 1.0]
    """
    design = order_design(battles)
    if not any(d["identified"] for d in design.values()):
        reasons = "; ".join(f"{j}: {d['reason']}" for j, d in design.items())
        raise InputError(f"battle rows: position cannot be estimated ({reasons}).")
    return battles.assign(position=position_covariate(battles))


def order_design(battles: pd.DataFrame) -> dict:
    """Whether the order shown can be separated from the prompt, per judge.

    Returns
    -------
    dict
        judge -> ``{"status", "identified", "reason"}``; ``status`` is
        ``"both_orders"`` (some pair judged in both orders on one prompt),
        ``"varies"`` (the order varies within prompts), ``"fixed_by_prompt"`` (the
        same side is shown first for every row of a prompt: position cannot be
        separated from per-prompt terms such as a prompt difficulty, AlpacaEval's
        design), ``"unknown"`` (not recorded) or ``"one_side"`` (always the same side).

    Examples
    --------
    >>> b = pd.DataFrame({"judge": "j", "prompt": ["p1", "p1", "p2"], "model_a": "x",
    ...     "model_b": ["y", "z", "y"], "outcome": 1.0, "shown_first": ["a", "a", "b"]})
    >>> order_design(b)["j"]["status"]
    'fixed_by_prompt'
    """
    check_battles(battles)
    out = {}
    for judge, rows in battles.groupby("judge", sort=False, observed=True):
        known = rows[rows["shown_first"] != "unknown"]
        first = np.where(known["shown_first"] == "a", known["model_a"], known["model_b"])
        if known.empty:
            status, reason = "unknown", "the order shown is not recorded"
        elif _both_orders(known, first):
            status, reason = "both_orders", ""
        elif known["shown_first"].nunique() == 1:
            status = "one_side"
            reason = f"answer {known['shown_first'].iloc[0].upper()} is always shown first"
        elif (known.groupby("prompt", observed=True)["shown_first"].nunique() == 1).all():
            status = "fixed_by_prompt"
            reason = (
                "the order shown is a fixed function of the prompt (the same side first for "
                "every row of a prompt): position cannot be separated from per-prompt terms"
            )
        else:
            status, reason = "varies", ""
        out[str(judge)] = {
            "status": status,
            "identified": status in ("both_orders", "varies"),
            "reason": reason,
        }
    return out


def _both_orders(known: pd.DataFrame, first: np.ndarray) -> bool:
    a, b = known["model_a"].astype(str).to_numpy(), known["model_b"].astype(str).to_numpy()
    key = pd.DataFrame(
        {
            "p": known["prompt"].to_numpy(),
            "t": _turn(known),
            "low": np.minimum(a, b),
            "high": np.maximum(a, b),
            "first": first,
        }
    )
    pairs = key.drop_duplicates()
    return bool(pairs.duplicated(["p", "t", "low", "high"]).any())


def _turn(b: pd.DataFrame) -> np.ndarray:
    return b["turn"].to_numpy() if "turn" in b else np.ones(len(b), dtype=int)


def ratio_interval(num: np.ndarray, den: np.ndarray, cluster: np.ndarray, level: float) -> dict:
    """A share sum(num)/sum(den) in percent with a cluster-robust interval.

    The influence of cluster g is (num_g − r·den_g)/sum(den); the interval uses
    Student's t with G − 1 df. Missing (NaN) when the SE is 0 or G < 2.

    Examples
    --------
    >>> r = ratio_interval(np.array([1, 0, 1, 1.]), np.ones(4), np.arange(4), 0.95)
    >>> r["estimate"], round(r["std_error"], 2)
    (75.0, 25.0)
    """
    codes, uniq = pd.factorize(pd.Series(cluster), sort=False)
    g = len(uniq)
    total = float(np.sum(den))
    if total <= 0:
        nan = float("nan")
        return {"estimate": nan, "std_error": nan, "conf_low": nan, "conf_high": nan}
    r = float(np.sum(num)) / total
    infl = np.bincount(codes, weights=num - r * den, minlength=g) / total
    se = cluster_se(infl) if g > 1 else float("nan")
    q = critical_value(level, g - 1) if g > 1 else float("nan")
    ok = np.isfinite(se) and se > 0
    return {
        "estimate": 100 * r,
        "std_error": 100 * se if ok else float("nan"),
        "conf_low": 100 * (r - q * se) if ok else float("nan"),
        "conf_high": 100 * (r + q * se) if ok else float("nan"),
    }


def _mirrors(b: pd.DataFrame) -> pd.DataFrame:
    """Rows with a known order, each with the first-shown model, its outcome and its mirror."""
    b = b[b["shown_first"] != "unknown"].reset_index(drop=True)
    a_first = (b["shown_first"] == "a").to_numpy()
    model_a, model_b = b["model_a"].astype(str).to_numpy(), b["model_b"].astype(str).to_numpy()
    first = np.where(a_first, model_a, model_b)
    low = np.minimum(model_a, model_b)
    high = np.maximum(model_a, model_b)
    outcome = b["outcome"].to_numpy(dtype=float)
    out_low = np.where(model_a == low, outcome, 1.0 - outcome)
    frame = pd.DataFrame(
        {
            "judge": b["judge"].astype(str).to_numpy(),
            "prompt": b["prompt"].to_numpy(),
            "turn": _turn(b),
            "low": low,
            "high": high,
            "first_is_low": first == low,
            # the verdict for the alphabetically first model: 1 win, 0 tie, -1 loss
            "verdict": np.sign(np.round(out_low - 0.5, 12)),
            "first_outcome": np.where(a_first, outcome, 1.0 - outcome),
            "weight": b["weight"].to_numpy(dtype=float) if "weight" in b else 1.0,
        }
    )
    key = ["judge", "prompt", "turn", "low", "high", "first_is_low"]
    frame["k"] = frame.groupby(key, sort=False).cumcount()
    mirror = frame[key + ["k", "verdict"]].copy()
    mirror["first_is_low"] = ~mirror["first_is_low"]
    mirror = mirror.rename(columns={"verdict": "mirror_verdict"})
    mirror["has_mirror"] = True
    merged = frame.merge(mirror, on=key + ["k"], how="left", validate="one_to_one")
    merged["has_mirror"] = merged["has_mirror"].eq(True)
    return merged


def consistency(battles: pd.DataFrame, *, rule: str = "pair", level: float = 0.95) -> pd.DataFrame:
    """Positional consistency per judge: how often both orders give the same verdict.

    Parameters
    ----------
    battles : pandas.DataFrame
        Battle rows with a known order (``shown_first`` ``"a"``/``"b"``); pairs judged
        in both orders on the same prompt and turn are matched (repeated calls in
        the order they appear).
    rule : {"pair", "call"}, default "pair"
        ``"pair"``: the share of pairs, among those with a verdict in both orders,
        whose two verdicts agree (the same winner, or a tie in both).
        ``"call"``: Position-Bias-Analyzer's count: a call with a verdict is consistent
        when its mirror gives the mirrored verdict **or has no verdict**; the share
        of calls with a verdict (reproduces its published percentages).
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``judge, rule, n, n_consistent, estimate, std_error, conf_low, conf_high``
        (percent; ``n`` pairs or calls; intervals clustered by prompt).

    Raises
    ------
    InputError
        A judge has no pair judged in both orders (its consistency is undefined).
    """
    check_battles(battles)
    if rule not in ("pair", "call"):
        raise ParameterError(f"The 'rule' parameter must be 'pair' or 'call'. Got {rule!r}.")
    critical_value(level)
    m = _mirrors(battles)
    rows = []
    for judge, d in m.groupby("judge", sort=False):
        has = d["verdict"].notna().to_numpy()
        mv = d["mirror_verdict"].to_numpy(dtype=float)
        agree = d["verdict"].to_numpy(dtype=float) == mv
        if rule == "pair":
            keep = has & ~np.isnan(mv) & d["first_is_low"].to_numpy()  # each pair once
            num, prompt = agree[keep].astype(float), d["prompt"].to_numpy()[keep]
        else:
            keep = has & d["has_mirror"].to_numpy()
            num = (agree | np.isnan(mv))[keep].astype(float)
            prompt = d["prompt"].to_numpy()[keep]
        if not keep.any():
            raise InputError(
                f"battle rows: judge {judge!r} has no pair judged in both orders with verdicts; "
                "consistency needs both orders (shown_first 'a' and 'b' for the same pair)."
            )
        est = ratio_interval(num, np.ones_like(num), prompt, level)
        rows.append(
            {"judge": judge, "rule": rule, "n": int(keep.sum()), "n_consistent": int(num.sum())}
            | est
        )
    return pd.DataFrame(rows)


def first_shown_win_rate(battles: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """How often the answer shown first wins (ties ½, row weights), per judge.

    50% means no position preference when every pair is judged in both orders (the
    models' qualities then cancel); with one order per pair it also carries the
    models' qualities, so prefer :func:`debias.reports.judges.fit_judges`'s
    ``position`` term there.

    Returns
    -------
    pandas.DataFrame
        ``judge, n, estimate, std_error, conf_low, conf_high, p_value`` (percent; the
        p-value tests 50%; intervals clustered by prompt; calls without a verdict or
        with an unknown order left out).

    Examples
    --------
    >>> b = pd.DataFrame({"judge": "j", "prompt": ["p", "q"], "model_a": "x", "model_b": "y",
    ...     "outcome": [1.0, 0.5], "shown_first": "b"})
    >>> first_shown_win_rate(b)[["n", "estimate"]]
       n  estimate
    0  2      25.0
    """
    check_battles(battles)
    critical_value(level)
    m = _mirrors(battles)
    m = m[m["verdict"].notna()]
    rows = []
    for judge, d in m.groupby("judge", sort=False):
        w = d["weight"].to_numpy(dtype=float)
        est = ratio_interval(d["first_outcome"].to_numpy() * w, w, d["prompt"].to_numpy(), level)
        g = d["prompt"].nunique()
        p = float("nan")
        if np.isfinite(est["std_error"]):
            t = (est["estimate"] - 50.0) / est["std_error"]
            p = float(2 * stats.t.sf(abs(t), g - 1))
        rows.append({"judge": judge, "n": len(d)} | est | {"p_value": p})
    return pd.DataFrame(rows)
