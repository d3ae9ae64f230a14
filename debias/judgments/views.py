"""Views of :class:`~debias.judgments.Judgments` that downstream code consumes.

- :func:`fixed_baseline`: every model against one baseline, as today's
  :class:`~debias.Comparisons` (AlpacaEval's shape);
- :func:`battles`: any-pair rows with the outcome for answer A in [0, 1];
- :func:`scores`: one grade per graded answer;
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from debias.data import COLUMNS as COMPARISONS_COLUMNS
from debias.data import Comparisons
from debias.errors import InputError, ParameterError, row_list
from debias.judgments.store import NO_ANSWER, take

if TYPE_CHECKING:  # the class imports this module, not the other way round
    from debias.judgments.core import Judgments


def fixed_baseline(
    judgments: Judgments, baseline: str | None = None, *, orders: str = "refuse"
) -> Comparisons:
    """Every model against one baseline: P(model preferred) per (model, prompt).

    Parameters
    ----------
    judgments : Judgments
        Pairwise calls, each with the baseline on one side.
    baseline : str, optional
        The baseline's name; by default the one model present in every call
        (with a single pair of models, the one always in answer B).
    orders : {"refuse", "mean"}
        A pair judged in both orders gives two rows for one (model, prompt):
        ``"refuse"`` says so, ``"mean"`` averages the two outcomes (position
        balanced) and keeps the first row's other fields.

    Returns
    -------
    Comparisons

    Examples
    --------
    >>> import pandas as pd
    >>> from debias.judgments import Judgments, Scale
    >>> df = pd.DataFrame({"prompt": ["q", "q"], "model_a": ["b", "m"], "model_b": ["m", "b"],
    ...                    "shown_first": "a", "verdict": ["A", "A"]})
    >>> j = Judgments.from_dataframe(df, scale=Scale.win_tie_loss())
    >>> j.fixed_baseline("b", orders="mean").data[["model", "baseline", "preference"]]
      model baseline  preference
    0     m        b         0.5
    """
    if orders not in ("refuse", "mean"):
        raise ParameterError(f"The 'orders' parameter must be 'refuse' or 'mean'. Got {orders!r}.")
    scale = judgments.scale
    if scale.kind == "grade" or (scale.kind == "levels" and set(scale.weights) != {1.0}):
        raise ParameterError(
            f"{judgments.source}: verdicts on a {scale.describe()} scale are not one preference "
            "per (model, prompt); use battles() (or scores() for grades)."
        )
    single = ~judgments.is_pairwise
    if single.any():
        raise InputError(
            f"{judgments.source}: row(s) {row_list(np.flatnonzero(single))} grade one answer; a "
            "fixed-baseline view needs two answers per call."
        )
    r = judgments.rows
    model_a = take(judgments.answers["model"], r["answer_a"].to_numpy())
    model_b = take(judgments.answers["model"], r["answer_b"].to_numpy())
    baseline = _find_baseline(model_a, model_b, baseline, judgments.source)
    base_is_b = (model_b == baseline).to_numpy()
    outside = ~base_is_b & (model_a != baseline).to_numpy()
    if outside.any():
        raise InputError(
            f"{judgments.source}: baseline= {baseline!r} is in neither answer of row(s) "
            f"{row_list(np.flatnonzero(outside))}; select its rows or use battles()."
        )
    own = np.where(base_is_b, r["answer_a"], r["answer_b"])
    other = np.where(base_is_b, r["answer_b"], r["answer_a"])
    outcome = scale.outcome(r["verdict"].to_numpy())
    preference = np.where(base_is_b, outcome, 1.0 - outcome)
    texts = judgments.answers["text"]
    frame = pd.DataFrame(
        {
            "instruction": take(_instruction(judgments.prompts), r["prompt"].to_numpy()),
            "model": take(judgments.answers["model"], own),
            "baseline": baseline,
            "output_model": take(texts, own),
            "output_baseline": take(texts, other),
            "preference": preference,
            "judge": r["judge"].astype(str).to_numpy(),
            "dataset": r["dataset"].to_numpy(),
            "position": r["position"].to_numpy(),
        }
    )
    if orders == "mean":
        key = [frame["judge"], frame["model"], r["prompt"].to_numpy()]
        frame["preference"] = frame.groupby(key, sort=False)["preference"].transform("mean")
        frame = frame[~pd.DataFrame(key).T.duplicated().to_numpy()].reset_index(drop=True)
    elif frame.duplicated(["judge", "model", "instruction"]).any():
        twice = frame.duplicated(["judge", "model", "instruction"], keep=False).to_numpy()
        raise InputError(
            f"{judgments.source}: row(s) {row_list(np.flatnonzero(twice))} judge the same (model, "
            "prompt) more than once (both orders, or several turns?); pass orders='mean' to average them or use "
            "battles()."
        )
    # every column was validated when the judgments were built: no second pass over the texts
    frame["baseline"] = frame["baseline"].astype("str")
    frame["position"] = frame["position"].astype(int)
    return Comparisons(
        frame[list(COMPARISONS_COLUMNS)],
        judgments.source,
        judgments.n_missing_outputs,
        judgments.prompt_order,
    )


def _instruction(prompts: pd.DataFrame) -> pd.Series:
    """Comparisons key prompts by text: the text, or the prompt id when there is no text."""
    text = prompts["text"]
    return text.where(text != "", prompts["prompt_id"])


def _find_baseline(model_a: pd.Series, model_b: pd.Series, baseline: str | None, source: str):
    if baseline is not None:
        if not isinstance(baseline, str):
            raise ParameterError(f"The 'baseline' parameter must be a str. Got {baseline!r}.")
        return baseline
    pairs = pd.DataFrame({"a": model_a, "b": model_b}).drop_duplicates()
    common = set(pairs["a"].iloc[0:1]) | set(pairs["b"].iloc[0:1])
    for a, b in pairs.itertuples(index=False):
        common &= {a, b}
    if len(common) == 1:
        return common.pop()
    if len(common) > 1 and pairs["b"].nunique() == 1:
        return str(pairs["b"].iloc[0])  # one pair, always in the same roles: B is the baseline
    found = "no model is in every call" if not common else f"both {sorted(common)} are"
    raise InputError(
        f"{source}: cannot tell the baseline ({found}); pass baseline=... or use battles()."
    )


def battles(judgments: Judgments) -> pd.DataFrame:
    """Any-pair rows: the outcome for answer A in [0, 1], one row per pairwise call.

    Grades of two answers become a win (1), tie (0.5) or loss (0) for A;
    level weights (Arena-Hard's 3 for ``>>``) multiply the row weight. Both-order
    calls are two rows with the same ``prompt`` and ``pair`` (an id of the
    unordered pair of models per judge). NaN outcome = no verdict.

    Returns
    -------
    pandas.DataFrame
        ``judge, prompt, turn, model_a, model_b, outcome, weight, shown_first, pair,
        answer_a, answer_b`` (the last two: int codes into ``judgments.answers``, read by
        :func:`debias.battles.style.add_answer_features`).

    Examples
    --------
    >>> import pandas as pd
    >>> from debias.judgments import Judgments, Scale
    >>> df = pd.DataFrame({"prompt": ["q", "q"], "model_a": ["x", "y"], "model_b": ["y", "x"],
    ...                    "shown_first": "a", "verdict": ["A>>B", "A=B"]})
    >>> battles(Judgments.from_dataframe(df, scale=Scale.arena_hard()))[["outcome", "weight"]]
       outcome  weight
    0      1.0     3.0
    1      0.5     1.0
    """
    pairwise = judgments.is_pairwise
    r = judgments.rows[pairwise].reset_index(drop=True)
    scale = judgments.scale
    if scale.kind == "grade":
        diff = r["verdict"].to_numpy() - r["verdict_b"].to_numpy()
        outcome = np.where(np.isnan(diff), np.nan, 0.5 + 0.5 * np.sign(diff))
        weight = r["weight"].to_numpy()
    else:
        outcome = scale.outcome(r["verdict"].to_numpy())
        level_weight = np.nan_to_num(scale.weight(r["verdict"].to_numpy()), nan=1.0)
        weight = r["weight"].to_numpy() * level_weight
    models = judgments.answers["model"]
    out = pd.DataFrame(
        {
            "judge": r["judge"].astype(str).to_numpy(),
            "prompt": take(judgments.prompts["prompt_id"], r["prompt"].to_numpy()),
            "turn": judgments.prompts["turn"].to_numpy()[r["prompt"].to_numpy()],
            "model_a": take(models, r["answer_a"].to_numpy()),
            "model_b": take(models, r["answer_b"].to_numpy()),
            "outcome": outcome,
            "weight": weight,
            "shown_first": r["shown_first"].to_numpy(),
        }
    )
    low = np.minimum(out["model_a"], out["model_b"])
    high = np.maximum(out["model_a"], out["model_b"])
    out["pair"] = pd.factorize(pd.Series(out["judge"] + "\0" + low + "\0" + high))[0]
    out["answer_a"] = r["answer_a"].to_numpy(dtype=np.int32)
    out["answer_b"] = r["answer_b"].to_numpy(dtype=np.int32)
    return out


def scores(judgments: Judgments) -> pd.DataFrame:
    """One grade per graded answer (single-answer grades, and both grades of a pair).

    Returns
    -------
    pandas.DataFrame
        ``judge, prompt, turn, model, grade, side`` (``side``: ``a`` or ``b``),
        rows without a grade dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> from debias.judgments import Judgments, Scale
    >>> df = pd.DataFrame({"prompt": ["q"], "model_a": ["x"], "model_b": ["y"],
    ...                    "verdict": [8], "verdict_b": [6.5]})
    >>> scores(Judgments.from_dataframe(df, scale=Scale.grade(1, 10)))[["model", "grade", "side"]]
      model  grade side
    0     x    8.0    a
    1     y    6.5    b
    """
    if judgments.scale.kind != "grade":
        raise ParameterError(
            f"{judgments.source}: scores() needs graded answers, but the scale is "
            f"{judgments.scale.describe()}; use battles() or fixed_baseline()."
        )
    r = judgments.rows
    parts = []
    for side, answer, grade in (("a", "answer_a", "verdict"), ("b", "answer_b", "verdict_b")):
        keep = (r[answer].to_numpy() != NO_ANSWER) & r[grade].notna().to_numpy()
        sub = r[keep]
        parts.append(
            pd.DataFrame(
                {
                    "judge": sub["judge"].astype(str).to_numpy(),
                    "prompt": take(judgments.prompts["prompt_id"], sub["prompt"].to_numpy()),
                    "turn": judgments.prompts["turn"].to_numpy()[sub["prompt"].to_numpy()],
                    "model": take(judgments.answers["model"], sub[answer].to_numpy()),
                    "grade": sub[grade].to_numpy(),
                    "side": side,
                    "_row": np.flatnonzero(keep),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True).sort_values(["_row", "side"], kind="stable")
    return out.drop(columns="_row").reset_index(drop=True)
